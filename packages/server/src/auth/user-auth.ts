/**
 * User authentication (issue 5): AUTH_MODE=admin and full, password sign-up and
 * login, Tessera's own JWTs (keys, JWKS, discovery), rotating refresh tokens and
 * logout. This file composes the parts and holds the thin AuthService handlers:
 * - passwords.ts: argon2id, length rules, email normalization;
 * - signing-keys.ts: the in-memory key ring over the signing_keys table;
 * - tokens.ts: issuing access tokens and the Tessera-JWT verifier;
 * - refresh.ts: sessions (refresh families), rotation and reuse detection;
 * - oidc.ts: OpenID provider bearers and login (GetAuthorizeUrl, ExchangeCode), which
 *   end in the same sessions through the SessionIssuer.
 */
import { createHash } from "node:crypto";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { Deps, Feature } from "../deps.js";
import { requestInfoKey } from "../server/request-info.js";
import { sendJson, type HttpHandler } from "../server/server.js";
import { ensurePersonalAccount } from "../store/accounts.js";
import { revokeUserFamily } from "../store/account-security.js";
import { deleteApiKeysCreatedBy, findPasswordUserByEmail, insertPasswordUser, updatePasswordHash } from "../store/users.js";
import { createAdminModeGate, ensureConfiguredAdmin, type AdminModeGate } from "./admin/admin-mode.js";
import type { CredentialVerifier } from "./request/interceptor.js";
import { createOidcAuth } from "./oidc/provider.js";
import { checkNewPassword, checkPasswordBytes, needsRehash, normalizeEmailInput, passwordHashing } from "./passwords/hashing.js";
import { ANONYMOUS_USER_ID } from "./request/principal.js";
import { checkPasswordStrength } from "./passwords/strength.js";
import { createSessions, type Sessions } from "./tokens/refresh.js";
import { clearStaleSealedSuccessors, deleteEndedFamilies } from "../store/sessions.js";
import { tokensToWire, type SessionIssuer } from "./tokens/session-issuer.js";
import { createKeyRing, SIGNING_ALG, type KeyRing } from "./tokens/signing-keys.js";
import { createTesseraJwtVerifier } from "./tokens/access-tokens.js";
import { API_KEY_REVOKED_CHANNEL } from "./api-keys/verifier.js";

export interface UserAuth extends Feature {
  /** AuthService handlers this feature implements (merged over the base ones). */
  handlers: Partial<ServiceImpl<typeof AuthService>>;
  /** Issues Tessera tokens for a signed-in user (used by every sign-in method). */
  sessions: SessionIssuer;
  /** Forgets the cached status of a user in this process's access-token verifier (after disabling it). */
  forgetUser(userId: string): void;
  /** Reloads the signing keys now (after a rotation this process made); false when this mode signs no tokens. */
  reloadSigningKeys(): Promise<boolean>;
}

/** The one message for every failed password login: no user enumeration. */
export const INVALID_LOGIN = "invalid email or password";

function noStore(ctx: HandlerContext): void {
  ctx.responseHeader.set("cache-control", "no-store");
  ctx.responseHeader.set("pragma", "no-cache");
}

/** A short, non-reversible tag of an email for audit metadata (never the email itself). */
function emailTag(normalized: string): string {
  return createHash("sha256").update(normalized).digest("hex").slice(0, 16);
}

/**
 * Builds user authentication. `gate` (shared with API-key verification) decides which
 * users' tokens this instance accepts: in admin mode, the configured admin's only.
 */
export function createUserAuth(deps: Deps, gate: AdminModeGate = createAdminModeGate(deps.config.authMode)): UserAuth {
  const { config, db, logger, audit, clock } = deps;
  const kysely = db.kysely;
  const enabled = config.authMode !== "none";
  const keys: KeyRing = createKeyRing(kysely, clock, logger);
  const sessions: Sessions = createSessions({ db: kysely, keys, config, clock });
  const jwtVerifier = createTesseraJwtVerifier({ keys, config, clock, db: kysely, gate });
  // Provider support (full mode with AUTH_BASEURL); otherwise its handlers answer FailedPrecondition.
  const oidc = createOidcAuth(deps, sessions);

  // A hash of a random password: unknown emails verify against it, so they cost the same as a wrong password.
  let dummyHash: Promise<string> | undefined;
  const getDummyHash = () => (dummyHash ??= passwordHashing.hash(`dummy-${Math.random()}-${Date.now()}`));
  const adminEmail = config.admin ? normalizeEmailInput(config.admin.email) : undefined;

  // Ended sessions are kept a day (for support and audit), then deleted with their tokens.
  // Sealed successors (for retries inside the grace window) are forgotten once it has passed.
  let sweeper: NodeJS.Timeout | undefined;
  function sweep(): void {
    const now = clock().getTime();
    deleteEndedFamilies(kysely, new Date(now - 86400_000)).catch((e: Error) =>
      logger.warn({ err: { message: e.message } }, "could not delete ended sessions"),
    );
    clearStaleSealedSuccessors(kysely, new Date(now - config.refreshReuseGraceSeconds * 1000)).catch((e: Error) =>
      logger.warn({ err: { message: e.message } }, "could not clear sealed refresh tokens"),
    );
  }

  async function issue(ctx: HandlerContext, userId: string) {
    const tokens = await sessions.startSession(userId, ctx.values.get(requestInfoKey));
    noStore(ctx);
    return { tokens: tokensToWire(tokens) };
  }

  const handlers: Partial<ServiceImpl<typeof AuthService>> = {
    async signUp(req, ctx) {
      if (!config.signupEnabled) throw new ConnectError("sign-up is disabled", Code.FailedPrecondition);
      checkPasswordBytes(req.password);
      const email = normalizeEmailInput(req.email);
      if (!email) throw new ConnectError("email is not a valid email address", Code.InvalidArgument);
      checkNewPassword(req.password);
      await checkPasswordStrength(req.password, email.email);
      const name = req.name.trim().slice(0, 200) || null;
      const hash = await passwordHashing.hash(req.password);
      const user = await insertPasswordUser(kysely, { email: email.email, emailNormalized: email.normalized, name, passwordHash: hash });
      if (!user) throw new ConnectError("a user with this email already exists", Code.AlreadyExists);
      await ensurePersonalAccount(kysely, user.id);
      audit.record({ action: "auth.signup.success", actorUserId: user.id, request: ctx.values.get(requestInfoKey) });
      return issue(ctx, user.id);
    },

    async login(req, ctx) {
      if (!config.passwordLoginEnabled) throw new ConnectError("password login is disabled", Code.FailedPrecondition);
      checkPasswordBytes(req.password);
      const email = normalizeEmailInput(req.email);
      // In admin mode only the configured admin may log in.
      const allowed = email !== undefined && (config.authMode !== "admin" || email.normalized === adminEmail?.normalized);
      const user = allowed ? await findPasswordUserByEmail(kysely, email.normalized) : undefined;
      // Exactly one argon2 verification on every path.
      const ok = await passwordHashing.verify(user?.password_hash ?? (await getDummyHash()), req.password);
      if (!user || !ok || user.disabled_at !== null) {
        audit.record({
          action: "auth.login.failure",
          actorUserId: user?.id,
          request: ctx.values.get(requestInfoKey),
          metadata: { reason: !user ? "unknown_email" : !ok ? "wrong_password" : "user_disabled", email_tag: email ? emailTag(email.normalized) : null },
        });
        throw new ConnectError(INVALID_LOGIN, Code.Unauthenticated);
      }
      if (needsRehash(user.password_hash!)) {
        // The configured cost rose since this hash was made: upgrade it now that we know the password.
        await updatePasswordHash(kysely, user.id, user.password_hash!, await passwordHashing.hash(req.password));
      }
      audit.record({ action: "auth.login.success", actorUserId: user.id, request: ctx.values.get(requestInfoKey), metadata: { method: "password" } });
      return issue(ctx, user.id);
    },

    async refreshToken(req, ctx) {
      if (!enabled) throw new ConnectError("authentication is disabled (AUTH_MODE=none)", Code.FailedPrecondition);
      const result = await sessions.refresh(req.refreshToken);
      if (!result.ok) {
        if (result.reason === "reuse_detected") {
          audit.record({
            action: "auth.refresh.reuse_detected",
            actorUserId: result.userId,
            request: ctx.values.get(requestInfoKey),
            metadata: { session_id: result.familyId ?? null },
          });
          logger.warn({ user_id: result.userId, session_id: result.familyId }, "refresh token reuse detected; session revoked");
        }
        throw new ConnectError(
          result.reason === "reuse_detected" || result.reason === "revoked" ? "session has been revoked" : "invalid or expired refresh token",
          Code.Unauthenticated,
        );
      }
      const refused = gate.refuseUserToken(result.tokens.userId, Math.floor(clock().getTime() / 1000));
      if (refused) {
        // A session another user started elsewhere (an instance still in full mode): end it here too.
        await revokeUserFamily(kysely, result.tokens.userId, result.familyId, clock(), "auth_mode_admin");
        throw new ConnectError(refused, Code.Unauthenticated);
      }
      noStore(ctx);
      return { tokens: tokensToWire(result.tokens) };
    },

    async logout(req, ctx) {
      const ended = await sessions.logout(req.refreshToken);
      if (ended) {
        audit.record({ action: "auth.logout.success", actorUserId: ended.userId, request: ctx.values.get(requestInfoKey), metadata: { session_id: ended.familyId } });
      }
      noStore(ctx);
      return {};
    },
  };

  const httpHandlers: HttpHandler[] = [
    (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") return false;
      const path = (req.url ?? "").split("?")[0];
      if (path === "/.well-known/jwks.json") {
        sendJson(res, 200, keys.jwks(), { "cache-control": "public, max-age=300" });
        return true;
      }
      if (path === "/.well-known/openid-configuration") {
        sendJson(
          res,
          200,
          {
            issuer: config.publicUrl,
            jwks_uri: `${config.publicUrl}/.well-known/jwks.json`,
            id_token_signing_alg_values_supported: [SIGNING_ALG],
            subject_types_supported: ["public"],
            response_types_supported: [],
            grant_types_supported: ["refresh_token"],
            claims_supported: ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id"],
          },
          { "cache-control": "public, max-age=300" },
        );
        return true;
      }
      return false;
    },
  ];

  // Tessera's own JWTs first (they route by `iss`), then the provider's.
  const verifiers: CredentialVerifier[] = enabled ? [jwtVerifier, ...(oidc.verifiers ?? [])] : [];

  return {
    handlers: { ...handlers, ...oidc.handlers },
    sessions,
    forgetUser: (userId) => jwtVerifier.forgetUser(userId),
    reloadSigningKeys: async () => {
      if (enabled) await keys.reload();
      return enabled;
    },
    verifiers,
    httpHandlers: enabled ? httpHandlers : [],
    async start() {
      if (!enabled) return;
      await keys.start();
      void getDummyHash();
      if (config.authMode === "admin") gate.admit(await ensureConfiguredAdmin(deps));
      const revoked = await deleteApiKeysCreatedBy(kysely, ANONYMOUS_USER_ID);
      if (revoked > 0) {
        logger.warn({ count: revoked }, "revoked API keys created in AUTH_MODE=none");
        // Other instances may still hold them in their verifier caches: purge them all.
        await deps.db.notify(API_KEY_REVOKED_CHANNEL, "*").catch((e: Error) =>
          logger.warn({ err: { message: e.message } }, "api key revocation not broadcast; other instances rely on the cache TTL"),
        );
        audit.record({ action: "apikey.revoke.success", actorUserId: undefined, metadata: { reason: "auth_mode_enabled", count: revoked } });
      }
      await getDummyHash();
      sweeper = setInterval(sweep, 3600_000);
      sweeper.unref();
      await oidc.start?.();
    },
    async stop() {
      keys.stop();
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      await oidc.stop?.();
    },
  };
}
