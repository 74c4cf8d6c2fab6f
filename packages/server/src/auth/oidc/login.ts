/**
 * Login through the OpenID provider (authorization code + PKCE S256, RFC 9700 / RFC 8252):
 * `GetAuthorizeUrl` stores a single-use login transaction (state hash, nonce, expected
 * issuer, redirect URI, PKCE challenge; 10 minutes) and returns the provider's
 * authorization URL; `ExchangeCode` consumes it, checks the RFC 9207 `iss` response
 * parameter, the redirect URI and the PKCE verifier, redeems the code at the token
 * endpoint with the client credentials (which go nowhere else), validates the ID token
 * (signature, iss, aud, exp, nonce, acr) and starts a Tessera session.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcConfig } from "../../config/config.js";
import type { Deps } from "../../deps.js";
import { fetchProviderUrl } from "./fetch.js";
import { requestInfoKey, type RequestInfo } from "../../lib/request-info.js";
import { consumeLoginTransaction, insertLoginTransaction } from "../../store/login-transactions.js";
import type { ProviderMetadata } from "./discovery.js";
import { CLOCK_TOLERANCE_SECONDS, describeJoseError, isKeySetUnavailable } from "./verifier.js";
import { tokensToWire, type SessionIssuer } from "../tokens/session-issuer.js";

/** How long a login transaction stays valid. */
const LOGIN_TRANSACTION_TTL_MS = 10 * 60 * 1000;
/** The only provider id (plus the empty default). */
const DEFAULT_PROVIDER_ID = "default";

const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER_RE = /^[A-Za-z0-9\-._~]{43,128}$/;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]"]);

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

function loopbackKey(u: URL): string | undefined {
  if (u.protocol !== "http:" || !LOOPBACK_HOSTS.has(u.hostname)) return undefined;
  if (u.username !== "" || u.password !== "" || u.hash !== "") return undefined;
  return `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
}

/**
 * Whether `uri` is allowed: equal to an allow-listed URI exactly, or, for loopback
 * URIs (`http://127.0.0.1:<port>/...`, `http://[::1]:<port>/...`), equal except for
 * the port (RFC 8252 section 7.3). `localhost` gets no port variance.
 */
export function isAllowedRedirectUri(uri: string, allowed: readonly string[]): boolean {
  if (uri === "" || uri.length > 2048) return false;
  if (allowed.includes(uri)) return true;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  // Only the canonical spelling may vary its port: no dot segments, case or encoding games.
  if (u.href !== uri && `${u.href}` !== `${uri}/`) return false;
  const key = loopbackKey(u);
  if (key === undefined) return false;
  for (const a of allowed) {
    let au: URL;
    try {
      au = new URL(a);
    } catch {
      continue;
    }
    if (loopbackKey(au) === key) return true;
  }
  return false;
}

export interface OidcLoginOptions {
  deps: Deps;
  config: OidcConfig;
  sessions: SessionIssuer;
  metadata: () => ProviderMetadata | undefined;
  keys: () => JWTVerifyGetKey | undefined;
  /** Links (or provisions) the identity; returns the user. */
  linkIdentity: (issuer: string, subject: string, claims: JWTPayload) => Promise<{ userId: string; disabled: boolean }>;
}

/** The login flow behind GetAuthorizeUrl and ExchangeCode (handler-shaped: request and context in). */
export type OidcLogin = ReturnType<typeof createOidcLogin>;

/** Builds the login flow of the configured provider. */
export function createOidcLogin(opts: OidcLoginOptions) {
  const { deps, config, sessions } = opts;
  const { db, audit, clock, logger } = deps;

  function ready(): { metadata: ProviderMetadata; keys: JWTVerifyGetKey } {
    const metadata = opts.metadata();
    const keys = opts.keys();
    if (!metadata || !keys) throw new ConnectError("OpenID provider not ready", Code.Unavailable);
    return { metadata, keys };
  }

  function checkProvider(id: string): void {
    if (id !== "" && id !== DEFAULT_PROVIDER_ID) throw invalid(`unknown provider_id "${id.slice(0, 64)}"`);
  }

  async function redeemCode(metadata: ProviderMetadata, code: string, redirectUri: string, codeVerifier: string): Promise<string> {
    const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: codeVerifier });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    const methods = metadata.tokenEndpointAuthMethods;
    if (methods.includes("client_secret_basic")) {
      // RFC 6749 section 2.3.1: form-encode id and secret before base64.
      const id = encodeURIComponent(config.clientId).replace(/%20/g, "+");
      const secret = encodeURIComponent(config.clientSecret).replace(/%20/g, "+");
      headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
    } else if (methods.includes("client_secret_post")) {
      form.set("client_id", config.clientId);
      form.set("client_secret", config.clientSecret);
    } else {
      throw new ConnectError("OpenID provider supports neither client_secret_basic nor client_secret_post", Code.FailedPrecondition);
    }
    let res: Response;
    try {
      // Redirects refused: the client credentials never follow a redirect anywhere else.
      res = await fetchProviderUrl(metadata.tokenEndpoint, { method: "POST", headers, body: form, signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      logger.warn({ err: { message: (e as Error).message } }, "OpenID token endpoint request failed");
      throw new ConnectError("OpenID provider unavailable", Code.Unavailable);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      // handled below
    }
    if (!res.ok) {
      const err = typeof body.error === "string" ? body.error.slice(0, 64) : `http_${res.status}`;
      throw Object.assign(new ConnectError("the provider rejected the authorization code", Code.Unauthenticated), { reason: err });
    }
    if (typeof body.id_token !== "string") {
      throw Object.assign(new ConnectError("the provider returned no ID token", Code.Unauthenticated), { reason: "no_id_token" });
    }
    return body.id_token;
  }

  return {
    async getAuthorizeUrl(
      req: { redirectUri: string; state: string; codeChallenge: string; providerId: string },
      _ctx: HandlerContext,
    ): Promise<{ url: string }> {
      checkProvider(req.providerId);
      if (!isAllowedRedirectUri(req.redirectUri, deps.config.allowedRedirectUris)) {
        throw invalid("redirect_uri is not allowed (AUTH_ALLOWED_REDIRECT_URIS)");
      }
      if (req.state === "" || req.state.length > 512) throw invalid("state is required (at most 512 characters)");
      if (!CHALLENGE_RE.test(req.codeChallenge)) throw invalid("code_challenge must be BASE64URL(SHA256(code_verifier)): 43 characters");
      const { metadata } = ready();
      const nonce = randomBytes(32).toString("base64url");
      const now = clock();
      const stored = await insertLoginTransaction(db.kysely, {
        stateHash: sha256Hex(req.state),
        nonce,
        providerId: DEFAULT_PROVIDER_ID,
        issuer: metadata.issuer,
        redirectUri: req.redirectUri,
        codeChallenge: req.codeChallenge,
        createdAt: now,
        expiresAt: new Date(now.getTime() + LOGIN_TRANSACTION_TTL_MS),
      });
      if (!stored) throw invalid("state was already used; generate a fresh random state");
      const url = new URL(metadata.authorizationEndpoint);
      const p = url.searchParams;
      p.set("response_type", "code");
      p.set("client_id", config.clientId);
      p.set("redirect_uri", req.redirectUri);
      p.set("scope", config.scopes.join(" "));
      p.set("state", req.state);
      p.set("nonce", nonce);
      p.set("code_challenge", req.codeChallenge);
      p.set("code_challenge_method", "S256");
      if (config.requiredAcr !== undefined) p.set("acr_values", config.requiredAcr);
      return { url: url.toString() };
    },

    async exchangeCode(req: { code: string; redirectUri: string; codeVerifier: string; state: string; iss: string }, ctx: HandlerContext) {
      const request: RequestInfo = ctx.values.get(requestInfoKey);
      const failure = (reason: string, extra: Record<string, string> = {}) =>
        audit.record({ action: "auth.oidc_login.failure", request, metadata: { reason, ...extra } });
      if (req.code === "" || req.code.length > 4096) throw invalid("code is required");
      if (req.state === "" || req.state.length > 512) throw invalid("state is required");
      if (!VERIFIER_RE.test(req.codeVerifier)) throw invalid("code_verifier must be 43 to 128 unreserved characters");
      const { metadata, keys } = ready();
      const now = clock();
      const consumed = await consumeLoginTransaction(db.kysely, sha256Hex(req.state), now);
      if (consumed.status === "unknown") {
        failure("unknown_state");
        throw invalid("unknown login (state); start again with GetAuthorizeUrl");
      }
      if (consumed.status === "used") {
        audit.record({ action: "auth.oidc.replay", request, metadata: { reason: "transaction_already_used" } });
        throw new ConnectError("this login was already completed; start again", Code.Unauthenticated);
      }
      const tx = consumed.row;
      if (tx.expires_at.getTime() <= now.getTime()) {
        audit.record({ action: "auth.oidc.replay", request, metadata: { reason: "transaction_expired" } });
        throw new ConnectError("this login expired; start again", Code.Unauthenticated);
      }
      if (req.redirectUri !== tx.redirect_uri) {
        failure("redirect_uri_mismatch");
        throw invalid("redirect_uri differs from the one given to GetAuthorizeUrl");
      }
      if (req.iss !== "" ? req.iss !== tx.issuer : metadata.issParameterSupported) {
        // RFC 9207: a response from another provider (or one that lost its iss) is a mix-up.
        audit.record({ action: "auth.oidc.mixup", request, metadata: { reason: req.iss === "" ? "iss_missing" : "iss_mismatch" } });
        throw new ConnectError("authorization response issuer does not match the login", Code.Unauthenticated);
      }
      const challenge = createHash("sha256").update(req.codeVerifier).digest("base64url");
      if (!safeEqual(challenge, tx.code_challenge)) {
        failure("pkce_mismatch");
        throw invalid("code_verifier does not match code_challenge");
      }
      let idToken: string;
      try {
        idToken = await redeemCode(metadata, req.code, tx.redirect_uri, req.codeVerifier);
      } catch (e) {
        const reason = (e as { reason?: string }).reason;
        if (reason !== undefined) failure("token_endpoint", { error: reason });
        throw e;
      }
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(idToken, keys, {
          algorithms: [...config.algorithms],
          issuer: tx.issuer,
          audience: config.clientId,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ["sub", "exp", "iat"],
          currentDate: now,
        }));
      } catch (e) {
        if (isKeySetUnavailable(e)) throw new ConnectError("OpenID provider keys unavailable", Code.Unavailable);
        failure("id_token_invalid", { detail: describeJoseError(e) });
        throw new ConnectError(`invalid ID token: ${describeJoseError(e)}`, Code.Unauthenticated);
      }
      if (typeof claims.nonce !== "string" || !safeEqual(claims.nonce, tx.nonce)) {
        audit.record({ action: "auth.oidc.replay", request, metadata: { reason: "nonce_mismatch" } });
        throw new ConnectError("invalid ID token: nonce mismatch", Code.Unauthenticated);
      }
      const aud = claims.aud;
      if (Array.isArray(aud) && aud.length > 1 && claims.azp !== config.clientId) {
        failure("azp_mismatch");
        throw new ConnectError("invalid ID token: azp", Code.Unauthenticated);
      }
      if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 255) {
        failure("id_token_invalid", { detail: "sub" });
        throw new ConnectError("invalid ID token: sub", Code.Unauthenticated);
      }
      if (config.requiredAcr !== undefined && claims.acr !== config.requiredAcr) {
        failure("acr_insufficient");
        throw new ConnectError("authentication context (acr) not sufficient", Code.Unauthenticated);
      }
      const user = await opts.linkIdentity(tx.issuer, claims.sub, claims);
      if (user.disabled) {
        audit.record({ action: "auth.oidc_login.failure", actorUserId: user.userId, request, metadata: { reason: "user_disabled" } });
        throw new ConnectError("user is disabled", Code.Unauthenticated);
      }
      const tokens = await sessions.startSession(user.userId, request);
      ctx.responseHeader.set("cache-control", "no-store");
      audit.record({ action: "auth.oidc_login.success", actorUserId: user.userId, request, metadata: { issuer: tx.issuer } });
      return { tokens: tokensToWire(tokens) };
    },
  };
}
