/**
 * The login flow every provider shares (authorization code + PKCE S256, RFC 9700 /
 * RFC 8252): `GetAuthorizeUrl` stores a single-use login transaction (state hash, nonce,
 * provider, issuer, redirect URI, PKCE challenge, and the signed-in user for a link;
 * 10 minutes) and returns the provider's authorization URL; `ExchangeCode` consumes it,
 * checks the RFC 9207 `iss` response parameter, the redirect URI and the PKCE verifier,
 * lets the provider redeem the code into a verified identity, applies the identity rules
 * (`identities.ts`) and starts a Tessera session.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Deps } from "../../deps.js";
import { requestInfoKey, type RequestInfo } from "../../lib/request-info.js";
import { consumeLoginTransaction, insertLoginTransaction } from "../../store/login-transactions.js";
import type { MfaSignIn, WireChallenge } from "../mfa/challenges.js";
import { PROVIDER_SIGN_IN, tokensToWire, type SessionIssuer } from "../tokens/session-issuer.js";
import type { IdentityLinker } from "./identities.js";
import { isAllowedRedirectUri } from "./redirect-uris.js";
import type { ProviderRuntime } from "./types.js";

/** How long a login transaction stays valid. */
const LOGIN_TRANSACTION_TTL_MS = 10 * 60 * 1000;

const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER_RE = /^[A-Za-z0-9\-._~]{43,128}$/;

function sha256Hex(v: string): string {
  return createHash("sha256").update(v).digest("hex");
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

export interface LoginFlowOptions {
  deps: Deps;
  sessions: SessionIssuer;
  identities: IdentityLinker;
  /** The provider of an id ("" = the default or only one); throws InvalidArgument or FailedPrecondition. */
  provider(id: string): ProviderRuntime;
  /** The provider a transaction was started with, if still configured. */
  byId(id: string): ProviderRuntime | undefined;
  /** A user with a second factor gets a challenge instead of tokens (AUTH_MFA_FOR_PROVIDER_LOGINS). */
  mfa?: Pick<MfaSignIn, "challengeFor">;
}

/** GetAuthorizeUrl's input, with the signed-in user when the login links. */
export interface AuthorizeRequest {
  redirectUri: string;
  state: string;
  codeChallenge: string;
  providerId: string;
}

/** ExchangeCode's input. */
export interface ExchangeRequest {
  code: string;
  redirectUri: string;
  codeVerifier: string;
  state: string;
  iss: string;
  providerId: string;
}

/** The login flow behind GetAuthorizeUrl and ExchangeCode (handler-shaped: request and context in). */
export type LoginFlow = ReturnType<typeof createLoginFlow>;

/** Builds the shared login flow. */
export function createLoginFlow(opts: LoginFlowOptions) {
  const { deps, sessions } = opts;
  const { db, audit, clock } = deps;

  return {
    async getAuthorizeUrl(req: AuthorizeRequest, _ctx: HandlerContext, linkUserId: string | null = null): Promise<{ url: string }> {
      const provider = opts.provider(req.providerId);
      if (!isAllowedRedirectUri(req.redirectUri, provider.config.redirectUris)) {
        throw invalid("redirect_uri is not allowed (AUTH_ALLOWED_REDIRECT_URIS or the provider's redirect URIs)");
      }
      if (req.state === "" || req.state.length > 512) throw invalid("state is required (at most 512 characters)");
      if (!CHALLENGE_RE.test(req.codeChallenge)) throw invalid("code_challenge must be BASE64URL(SHA256(code_verifier)): 43 characters");
      provider.ready();
      const nonce = randomBytes(32).toString("base64url");
      const now = clock();
      const stored = await insertLoginTransaction(db.kysely, {
        stateHash: sha256Hex(req.state),
        nonce,
        providerId: provider.config.id,
        issuer: provider.issuer,
        redirectUri: req.redirectUri,
        codeChallenge: req.codeChallenge,
        createdAt: now,
        expiresAt: new Date(now.getTime() + LOGIN_TRANSACTION_TTL_MS),
        linkUserId,
      });
      if (!stored) throw invalid("state was already used; generate a fresh random state");
      return { url: provider.authorizeUrl({ redirectUri: req.redirectUri, state: req.state, nonce, codeChallenge: req.codeChallenge }) };
    },

    async exchangeCode(req: ExchangeRequest, ctx: HandlerContext) {
      const request: RequestInfo = ctx.values.get(requestInfoKey);
      const failure = (reason: string, extra: Record<string, string> = {}) =>
        audit.record({ action: "auth.oidc_login.failure", request, metadata: { reason, ...extra } });
      const suspicious = (action: "auth.oidc.mixup" | "auth.oidc.replay", reason: string) => audit.record({ action, request, metadata: { reason } });
      if (req.code === "" || req.code.length > 4096) throw invalid("code is required");
      if (req.state === "" || req.state.length > 512) throw invalid("state is required");
      if (!VERIFIER_RE.test(req.codeVerifier)) throw invalid("code_verifier must be 43 to 128 unreserved characters");
      if (req.providerId !== "") opts.provider(req.providerId).ready();
      const now = clock();
      const consumed = await consumeLoginTransaction(db.kysely, sha256Hex(req.state), now);
      if (consumed.status === "unknown") {
        failure("unknown_state");
        throw invalid("unknown login (state); start again with GetAuthorizeUrl");
      }
      if (consumed.status === "used") {
        suspicious("auth.oidc.replay", "transaction_already_used");
        throw new ConnectError("this login was already completed; start again", Code.Unauthenticated);
      }
      const tx = consumed.row;
      if (tx.expires_at.getTime() <= now.getTime()) {
        suspicious("auth.oidc.replay", "transaction_expired");
        throw new ConnectError("this login expired; start again", Code.Unauthenticated);
      }
      const provider = opts.byId(tx.provider_id);
      if (!provider || provider.issuer !== tx.issuer || (req.providerId !== "" && req.providerId !== tx.provider_id)) {
        failure("provider_mismatch", { provider: tx.provider_id });
        throw invalid("this login was started with another provider; start again");
      }
      provider.ready();
      if (req.redirectUri !== tx.redirect_uri) {
        failure("redirect_uri_mismatch");
        throw invalid("redirect_uri differs from the one given to GetAuthorizeUrl");
      }
      if (req.iss !== "" ? req.iss !== tx.issuer : provider.sendsIssParameter()) {
        // RFC 9207: a response from another provider (or one that lost its iss) is a mix-up.
        suspicious("auth.oidc.mixup", req.iss === "" ? "iss_missing" : "iss_mismatch");
        throw new ConnectError("authorization response issuer does not match the login", Code.Unauthenticated);
      }
      const challenge = createHash("sha256").update(req.codeVerifier).digest("base64url");
      if (!safeEqual(challenge, tx.code_challenge)) {
        failure("pkce_mismatch");
        throw invalid("code_verifier does not match code_challenge");
      }
      const identity = await provider.redeem({
        code: req.code,
        redirectUri: tx.redirect_uri,
        codeVerifier: req.codeVerifier,
        nonce: tx.nonce,
        issuer: tx.issuer,
        failure: (reason, extra) => failure(reason, { provider: provider.config.id, ...extra }),
        suspicious,
      });
      const user = await opts.identities.signIn(provider.config, identity, tx.link_user_id, request);
      if (user.disabled) {
        audit.record({ action: "auth.oidc_login.failure", actorUserId: user.userId, request, metadata: { reason: "user_disabled" } });
        throw new ConnectError("user is disabled", Code.Unauthenticated);
      }
      ctx.responseHeader.set("cache-control", "no-store");
      const mfaChallenge: WireChallenge | undefined = await opts.mfa?.challengeFor(user.userId, "fed", request, provider.config.id);
      if (mfaChallenge) {
        audit.record({
          action: "auth.oidc_login.mfa_challenge",
          actorUserId: user.userId,
          request,
          metadata: { issuer: tx.issuer, provider: provider.config.id },
        });
        return { mfaChallenge };
      }
      const tokens = await sessions.startSession(user.userId, request, PROVIDER_SIGN_IN);
      audit.record({ action: "auth.oidc_login.success", actorUserId: user.userId, request, metadata: { issuer: tx.issuer, provider: provider.config.id } });
      return { tokens: tokensToWire(tokens) };
    },
  };
}
