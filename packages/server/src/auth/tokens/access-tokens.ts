/**
 * Tessera's access tokens (RFC 9068 JWTs): issuing, and the CredentialVerifier that
 * accepts them. Verification is in memory: keys are imported once (see KeyRing),
 * verified tokens are cached until they expire in the bounded cache (lib/bounded-cache.ts), and the user's
 * disabled flag and the session's revoked flag are cached for USER_STATUS_TTL_MS,
 * forgotten on every instance when the revocation log records the user or the session
 * (`user`, `session` events), and not used at all while the log cannot vouch for this
 * instance's caches (`trusted()` false: read per request). So a JWT stops working within
 * a second once its session ends (logout, RevokeSession, password change, refresh reuse)
 * or its user is disabled, not only at `exp`. In
 * AUTH_MODE=admin the AdminModeGate also refuses, in memory, every user's tokens but
 * the configured admin's, and the admin's own issued before its credentials changed.
 */
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { SignJWT, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import type { Kysely } from "kysely";
import type { Config } from "../../config/config.js";
import type { Clock } from "../../deps.js";
import { BoundedCache } from "../../lib/bounded-cache.js";
import { isUuid } from "../../lib/ids.js";
import type { Database } from "../../store/schema.js";
import { findUserStatus } from "../../store/users.js";
import { findSessionStatus } from "../../store/account-security.js";
import type { AdminModeGate } from "../admin/admin-mode.js";
import type { CredentialVerifier } from "../request/interceptor.js";
import type { Principal } from "../request/principal.js";
import type { SignIn } from "./session-issuer.js";
import { SIGNING_ALG, type KeyRing } from "./signing-keys.js";

/** RFC 9068 media type of JWT access tokens. */
const ACCESS_TOKEN_TYP = "at+jwt";
/** The `client_id` claim of Tessera-issued tokens. */
const TESSERA_CLIENT_ID = "tessera";
const CLOCK_TOLERANCE_SECONDS = 60;
const CACHE_MAX = 10_000;
const USER_STATUS_TTL_MS = 30_000;
/** Three base64url segments: the only shape this verifier looks at. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

type TokenConfig = Pick<Config, "publicUrl" | "tokenAudience" | "accessTokenLifetimeSeconds">;

/** Signs an access token for a user's session. */
export async function issueAccessToken(
  keys: KeyRing,
  config: TokenConfig,
  now: Date,
  userId: string,
  sessionId: string,
  signIn: SignIn,
): Promise<{ token: string; expiresAt: Date; jti: string }> {
  const { kid, privateKey } = keys.signingKey();
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + config.accessTokenLifetimeSeconds;
  const jti = randomUUID();
  // RFC 9068 §2.2.1: `amr` and `acr` say how the user signed in (`acr`: "aal1" or "aal2").
  const token = await new SignJWT({ sid: sessionId, client_id: TESSERA_CLIENT_ID, amr: [...signIn.amr], acr: `aal${signIn.assuranceLevel}` })
    .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(config.publicUrl)
    .setSubject(userId)
    .setAudience(config.tokenAudience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(privateKey);
  return { token, expiresAt: new Date(exp * 1000), jti };
}

function decodeSegment(seg: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** True when the token is JWT-shaped and its (unverified) `iss` is Tessera's: used only to route. */
function looksLikeTesseraJwt(token: string, issuer: string): boolean {
  if (!JWT_SHAPE.test(token)) return false;
  const payload = decodeSegment(token.slice(token.indexOf(".") + 1, token.lastIndexOf(".")));
  return payload?.iss === issuer;
}

function reject(message = "invalid access token"): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

interface CacheEntry {
  principal: Extract<Principal, { kind: "user" }>;
  /** Accept until (ms): exp plus the clock tolerance. */
  until: number;
  /** The token's `iat` (seconds). */
  issuedAt: number;
}

export interface TesseraJwtVerifier extends CredentialVerifier {
  /** Forgets cached user status (after disabling a user, in this process). */
  forgetUser(userId: string): void;
  /** Forgets the cached status of a session (it was revoked, maybe on another instance). */
  forgetSession(sessionId: string): void;
  /** Forgets every cached user and session status. */
  forgetAll(): void;
}

/** Builds the verifier of Tessera's own access tokens. */
export function createTesseraJwtVerifier(opts: {
  keys: KeyRing;
  config: TokenConfig;
  clock: Clock;
  db: Kysely<Database>;
  /** Which users' tokens this instance accepts (admin mode); every user's when absent. */
  gate?: Pick<AdminModeGate, "refuseUserToken">;
  /** Whether cached user status may be used (the revocation log's `cachesTrusted`); always when absent. */
  trusted?: () => boolean;
}): TesseraJwtVerifier {
  const { keys, config, clock, db, gate, trusted } = opts;
  // Verified tokens until they expire (checked on every hit, to answer "expired" precisely).
  const cache = new BoundedCache<string, CacheEntry>({ maxEntries: CACHE_MAX });
  /**
   * A yes/no about a user or a session, cached for USER_STATUS_TTL_MS, forgotten on
   * `user`/`session` events, and read from the database whenever the revocation log
   * cannot vouch for this instance's caches.
   */
  function statusCache(read: (id: string) => Promise<boolean>) {
    const known = new BoundedCache<string, boolean>({ maxEntries: CACHE_MAX, ttlMs: USER_STATUS_TTL_MS, now: () => clock().getTime() });
    return {
      known,
      async usable(id: string): Promise<boolean> {
        const cached = trusted === undefined || trusted() ? known.get(id) : undefined;
        if (cached !== undefined) return cached;
        const ok = await read(id);
        known.set(id, ok);
        return ok;
      },
    };
  }
  // Whether a user may use its tokens (exists, not disabled).
  const userStatus = statusCache(async (userId) => {
    const row = await findUserStatus(db, userId);
    return row !== undefined && !row.disabled;
  });
  // Whether a session is still open (exists, not revoked).
  const sessionStatus = statusCache(async (sessionId) => {
    const row = isUuid(sessionId) ? await findSessionStatus(db, sessionId) : undefined;
    return row !== undefined && !row.revoked;
  });

  async function fullVerify(token: string): Promise<CacheEntry> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header: ProtectedHeaderParameters) => {
          // jku, x5u, x5c and embedded jwk headers are never consulted: keys come only from the ring.
          if (typeof header.kid !== "string") throw reject("access token has no kid");
          const key = await keys.verificationKey(header.kid);
          if (!key) throw reject("access token signed by an unknown key");
          return key;
        },
        {
          algorithms: [SIGNING_ALG],
          typ: ACCESS_TOKEN_TYP,
          issuer: config.publicUrl,
          audience: config.tokenAudience,
          currentDate: clock(),
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ["sub", "exp", "iat", "jti"],
        },
      ));
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      throw reject();
    }
    const sub = payload.sub;
    if (!isUuid(sub)) throw reject();
    if (typeof payload.jti !== "string" || typeof payload.exp !== "number" || typeof payload.iat !== "number") throw reject();
    const sid = typeof payload.sid === "string" ? payload.sid : undefined;
    const amr = Array.isArray(payload.amr) ? Object.freeze(payload.amr.filter((v): v is string => typeof v === "string")) : [];
    const assuranceLevel = payload.acr === "aal2" ? 2 : 1;
    return {
      principal: Object.freeze({
        kind: "user",
        userId: sub,
        expiresAt: new Date(payload.exp * 1000),
        sessionId: sid,
        tokenId: payload.jti,
        amr,
        assuranceLevel,
      }),
      until: (payload.exp + CLOCK_TOLERANCE_SECONDS) * 1000,
      issuedAt: payload.iat,
    };
  }

  return {
    async verify(token) {
      let entry = cache.get(token);
      const now = clock().getTime();
      if (entry) {
        if (entry.until <= now) {
          cache.delete(token);
          throw reject("access token expired");
        }
      } else {
        if (!looksLikeTesseraJwt(token, config.publicUrl)) return undefined;
        entry = await fullVerify(token);
        cache.set(token, entry);
      }
      const refused = gate?.refuseUserToken(entry.principal.userId, entry.issuedAt);
      if (refused) throw reject(refused);
      if (!(await userStatus.usable(entry.principal.userId))) throw reject("user is disabled");
      const sid = entry.principal.sessionId;
      if (sid !== undefined && !(await sessionStatus.usable(sid))) throw reject("session has ended");
      return entry.principal;
    },
    forgetUser(userId) {
      userStatus.known.delete(userId);
    },
    forgetSession(sessionId) {
      sessionStatus.known.delete(sessionId);
    },
    forgetAll() {
      userStatus.known.clear();
      sessionStatus.known.clear();
    },
  };
}
