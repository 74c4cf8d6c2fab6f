/**
 * User authentication as a feature of the server (AUTH_MODE=admin and full): the
 * signing keys and JWKS, Tessera's access-token verifier, sessions (refresh families),
 * the OpenID provider, the configured admin of admin mode and the housekeeping of ended
 * sessions. The AuthService handlers that use it live in `services/auth/`.
 * - passwords/: argon2id, length and strength rules, email normalization;
 * - tokens/: the key ring, access tokens, refresh rotation and reuse detection, JWKS;
 * - oidc/: provider bearers and login, which end in the same sessions;
 * - admin/: who may sign in in admin mode.
 */
import type { Deps, Feature } from "../deps.js";
import { ANONYMOUS_USER_ID } from "../store/ids.js";
import { clearStaleSealedSuccessors, deleteEndedFamilies } from "../store/sessions.js";
import { deleteApiKeysCreatedBy } from "../store/users.js";
import { createAdminModeGate, ensureConfiguredAdmin, type AdminModeGate } from "./admin/admin-mode.js";
import { createProviderAuth, type ProviderAuth } from "./providers/registry.js";
import { normalizeEmailInput, passwordHashing } from "./passwords/hashing.js";
import type { CredentialVerifier } from "./request/interceptor.js";
import type { RevocationApplier, RevocationLog } from "./revocation/log.js";
import { recordRevocations } from "../store/revocation-log.js";
import { createTesseraJwtVerifier } from "./tokens/access-tokens.js";
import { createJwksHandler } from "./tokens/jwks.js";
import { createSessions, type Sessions } from "./tokens/refresh.js";
import { createKeyRing, type KeyRing } from "./tokens/signing-keys.js";
import { createMfaSignIn, type MfaSignIn } from "./mfa/challenges.js";
import { loadOrCreateKeyFile } from "./mfa/key-file.js";
import { createMfaKeys, type MfaKeys } from "./mfa/secret-box.js";

/** What the sign-in handlers need from user authentication. */
export interface UserAuth extends Feature {
  /** Sessions: start (every sign-in method), refresh, logout. */
  sessions: Sessions;
  /** Which users this instance admits (admin mode: the configured admin only). */
  gate: AdminModeGate;
  /** The identity providers: bearer verification, the login flow, identities. */
  oidc: ProviderAuth;
  /** The normalized email of the configured admin (admin mode), else undefined. */
  adminEmail: string | undefined;
  /** A hash of a random password: unknown emails verify against it, so they cost what a wrong password costs. */
  dummyHash(): Promise<string>;
  /** Forgets the cached status of a user in this process's access-token verifier (after disabling it). */
  forgetUser(userId: string): void;
  /** Reloads the signing keys now (after a rotation this process made); false when this mode signs no tokens. */
  reloadSigningKeys(): Promise<boolean>;
  /** Keeps the token verifier's cached user status in step with the revocation log. */
  applier: RevocationApplier;
  /** The second factor at sign-in: challenges and VerifyMfa (docs/mfa.md). */
  mfa: MfaSignIn;
}

/** What user authentication asks of the rest of the server. */
export interface UserAuthOptions {
  /** Which users' tokens this instance accepts; shared with API-key verification. */
  gate?: AdminModeGate;
  /** The revocation log (records, then `published`), whose `cachesTrusted` the token verifier follows. */
  revocations: Pick<RevocationLog, "published" | "cachesTrusted">;
}

/** The MFA keys: configured, or kept in the embedded database's data directory; undefined: MFA is off. */
function mfaKeys(c: Deps["config"]["mfa"]): MfaKeys | undefined {
  if (c.key) return createMfaKeys(c.key.current, c.key.previous);
  return c.keyInDataDir === undefined ? undefined : createMfaKeys(loadOrCreateKeyFile(c.keyInDataDir));
}

/** Builds user authentication. */
export function createUserAuth(deps: Deps, opts: UserAuthOptions): UserAuth {
  const { config, db, logger, audit, clock } = deps;
  const kysely = db.kysely;
  const enabled = config.authMode !== "none";
  const gate = opts.gate ?? createAdminModeGate(config.authMode);
  const keys: KeyRing = createKeyRing(kysely, clock, logger);
  const sessions: Sessions = createSessions({ db: kysely, keys, config, clock });
  const jwtVerifier = createTesseraJwtVerifier({ keys, config, clock, db: kysely, gate, trusted: () => opts.revocations.cachesTrusted() });
  const mfa = createMfaSignIn(deps, sessions, enabled ? mfaKeys(config.mfa) : undefined);
  // Identity providers (full mode); without any, the provider login answers FailedPrecondition.
  const oidc = createProviderAuth(deps, sessions, { mfa });

  let dummyHash: Promise<string> | undefined;
  const getDummyHash = () => (dummyHash ??= passwordHashing.hash(`dummy-${Math.random()}-${Date.now()}`));

  // Ended sessions are kept a day (for support and audit), then deleted with their tokens.
  // Sealed successors (for retries inside the grace window) are forgotten once it has passed.
  let sweeper: NodeJS.Timeout | undefined;
  function sweep(): void {
    const now = clock().getTime();
    deleteEndedFamilies(kysely, new Date(now - 86400_000)).catch((e: Error) => logger.warn({ err: { message: e.message } }, "could not delete ended sessions"));
    clearStaleSealedSuccessors(kysely, new Date(now - config.refreshReuseGraceSeconds * 1000)).catch((e: Error) =>
      logger.warn({ err: { message: e.message } }, "could not clear sealed refresh tokens"),
    );
  }

  // Tessera's own JWTs first (they route by `iss`), then the provider's.
  const verifiers: CredentialVerifier[] = enabled ? [jwtVerifier, ...(oidc.verifiers ?? [])] : [];

  return {
    sessions,
    mfa,
    gate,
    oidc,
    adminEmail: config.admin ? normalizeEmailInput(config.admin.email)?.normalized : undefined,
    dummyHash: getDummyHash,
    forgetUser: (userId) => jwtVerifier.forgetUser(userId),
    applier: {
      apply(event) {
        if (event.kind === "user") jwtVerifier.forgetUser(event.target);
        else if (event.kind === "session") jwtVerifier.forgetSession(event.target);
        else if (event.kind === "flush_all") jwtVerifier.forgetAll();
      },
      flush: () => jwtVerifier.forgetAll(),
    },
    reloadSigningKeys: async () => {
      if (enabled) await keys.reload();
      return enabled;
    },
    verifiers,
    httpHandlers: enabled ? [createJwksHandler(keys, config.publicUrl)] : [],
    async start() {
      if (!enabled) return;
      await keys.start();
      void getDummyHash();
      if (config.authMode === "admin") gate.admit(await ensureConfiguredAdmin(deps));
      const revoked = await deleteApiKeysCreatedBy(kysely, ANONYMOUS_USER_ID);
      if (revoked > 0) {
        logger.warn({ count: revoked }, "revoked API keys created in AUTH_MODE=none");
        // Other instances and subscribers may still hold them in their caches: everything is checked again.
        await opts.revocations.published(await recordRevocations(kysely, [{ kind: "flush_all", target: "" }]));
        audit.record({ action: "apikey.revoke.success", actorUserId: undefined, metadata: { reason: "auth_mode_enabled", count: revoked } });
      }
      await getDummyHash();
      sweeper = setInterval(sweep, 3600_000);
      sweeper.unref();
      await mfa.start?.();
      await oidc.start?.();
    },
    async stop() {
      keys.stop();
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      await mfa.stop?.();
      await oidc.stop?.();
    },
  };
}
