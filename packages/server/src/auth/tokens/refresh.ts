/**
 * Sessions: a sign-in starts a refresh family; every refresh rotates its token.
 * Refresh tokens are `tsr_` + 32 random bytes (base64url), stored as SHA-256.
 * A family has exactly one live (unrotated) token, a rule the database enforces too.
 * Presenting the token the live one replaced, within the grace window of that rotation
 * (two tabs, a retried request), is an idempotent retry: the SAME live token comes back
 * (opened from its sealed copy, see refresh-successor.ts) with a fresh access token, and
 * nothing is inserted. Any other use of a superseded token (after the window, or once the
 * live token has itself been rotated) revokes the family (reuse detection).
 * Refreshes of one family are serialised by locking the family row.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Config } from "../../config/config.js";
import type { Clock } from "../../deps.js";
import type { RequestInfo } from "../../lib/request-info.js";
import type { Database, RefreshFamilyRow, RefreshTokenRow } from "../../store/schema.js";
import {
  findFamily,
  findRefreshTokenByHash,
  findRefreshTokenById,
  insertFamily,
  insertRefreshToken,
  lockFamily,
  markRotated,
  revokeFamily,
  touchFamily,
} from "../../store/sessions.js";
import { findUserStatus } from "../../store/users.js";
import { openSuccessor, sealSuccessor } from "./refresh-successor.js";
import type { IssuedTokens, SessionIssuer, SignIn } from "./session-issuer.js";
import { issueAccessToken } from "./access-tokens.js";
import type { KeyRing } from "./signing-keys.js";

const REFRESH_TOKEN_PREFIX = "tsr_";
const REFRESH_TOKEN_RE = /^tsr_[A-Za-z0-9_-]{43}$/;

/** SHA-256 (hex) of a refresh token: what the database stores. */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** True for strings in the refresh-token format (anything else is never looked up). */
export function isRefreshTokenFormat(token: string): boolean {
  return REFRESH_TOKEN_RE.test(token);
}

function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Why a refresh failed; `reuse_detected` means the family was just revoked. */
type RefreshFailure = "invalid" | "expired" | "revoked" | "user_disabled" | "reuse_detected";

/** `sequence`: the revocation recorded when reuse revoked the family (0: none). */
type RefreshResult =
  | { ok: true; tokens: IssuedTokens; familyId: string }
  | { ok: false; reason: RefreshFailure; userId?: string; familyId?: string; sequence?: number };

export interface Sessions extends SessionIssuer {
  /** Exchanges a refresh token for new tokens (rotation). */
  refresh(refreshToken: string): Promise<RefreshResult>;
  /** Revokes the family of a refresh token; returns its user and the revocation's sequence when a session was ended. */
  logout(refreshToken: string): Promise<{ userId: string; familyId: string; sequence: number } | undefined>;
}

/** A refresh the transaction decided to answer with tokens. */
type Issue = { ok: "issue"; userId: string; familyId: string; refreshToken: string; expiresAt: Date; signIn: SignIn };

/** How a stored session was signed in (sessions from before migration 0013: no `amr`, level 1). */
export function signInOf(family: Pick<RefreshFamilyRow, "amr" | "assurance_level">): SignIn {
  return { amr: family.amr.split(" ").filter((v) => v !== ""), assuranceLevel: family.assurance_level === 2 ? 2 : 1 };
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

type SessionConfig = Pick<
  Config,
  | "publicUrl"
  | "tokenAudience"
  | "accessTokenLifetimeSeconds"
  | "refreshTokenLifetimeSeconds"
  | "refreshReuseGraceSeconds"
  | "sessionIdleTimeoutSeconds"
  | "sessionMaxLifetimeSeconds"
>;

/** Builds the session service over the database and key ring. */
export function createSessions(opts: { db: Kysely<Database>; keys: KeyRing; config: SessionConfig; clock: Clock }): Sessions {
  const { db, keys, config, clock } = opts;

  function refreshExpiry(now: Date, family: RefreshFamilyRow): Date {
    const t = Math.min(now.getTime() + config.refreshTokenLifetimeSeconds * 1000, family.expires_at.getTime());
    return new Date(t);
  }

  async function tokensFor(userId: string, familyId: string, refreshToken: string, refreshExpiresAt: Date, now: Date, signIn: SignIn): Promise<IssuedTokens> {
    const at = await issueAccessToken(keys, config, now, userId, familyId, signIn);
    return {
      accessToken: at.token,
      refreshToken,
      tokenType: "Bearer",
      expiresIn: config.accessTokenLifetimeSeconds,
      accessTokenExpiresAt: at.expiresAt,
      refreshTokenExpiresAt: refreshExpiresAt,
      userId,
    };
  }

  async function userActive(trx: Kysely<Database>, userId: string): Promise<boolean> {
    const status = await findUserStatus(trx, userId);
    return status !== undefined && !status.disabled;
  }

  /**
   * For a superseded token: the live token its rotation issued, when this is an
   * idempotent retry (inside the grace window, and that token not rotated since);
   * undefined otherwise, which is reuse.
   */
  async function retriedSuccessor(
    trx: Kysely<Database>,
    family: RefreshFamilyRow,
    token: RefreshTokenRow,
    presented: string,
    now: Date,
  ): Promise<{ value: string; expiresAt: Date } | undefined> {
    if (token.rotated_at === null || now.getTime() - token.rotated_at.getTime() > config.refreshReuseGraceSeconds * 1000) return undefined;
    if (token.replaced_by_id === null || family.sealed_successor === null) return undefined;
    const successor = await findRefreshTokenById(trx, token.replaced_by_id);
    if (!successor || successor.rotated_at !== null || successor.expires_at.getTime() <= now.getTime()) return undefined;
    const value = openSuccessor(presented, { familyId: family.id, tokenId: token.id }, family.sealed_successor);
    if (value === undefined || !sameHash(hashRefreshToken(value), successor.token_hash)) return undefined;
    return { value, expiresAt: successor.expires_at };
  }

  function familyEnded(family: RefreshFamilyRow, now: Date): boolean {
    const idleEnd = family.last_used_at.getTime() + config.sessionIdleTimeoutSeconds * 1000;
    return family.expires_at.getTime() <= now.getTime() || idleEnd <= now.getTime();
  }

  return {
    async startSession(userId: string, request: RequestInfo, signIn: SignIn): Promise<IssuedTokens> {
      const now = clock();
      const token = newRefreshToken();
      const { family, expiresAt } = await db.transaction().execute(async (trx) => {
        const family = await insertFamily(trx, {
          userId,
          now,
          expiresAt: new Date(now.getTime() + config.sessionMaxLifetimeSeconds * 1000),
          clientIp: request.clientIp || null,
          userAgent: request.userAgent || null,
          amr: signIn.amr.join(" "),
          assuranceLevel: signIn.assuranceLevel,
        });
        const expiresAt = refreshExpiry(now, family);
        await insertRefreshToken(trx, { familyId: family.id, tokenHash: hashRefreshToken(token), now, expiresAt });
        return { family, expiresAt };
      });
      return tokensFor(userId, family.id, token, expiresAt, now, signIn);
    },

    async refresh(presented) {
      if (!isRefreshTokenFormat(presented)) return { ok: false, reason: "invalid" };
      const hash = hashRefreshToken(presented);
      const found = await findRefreshTokenByHash(db, hash);
      if (!found) return { ok: false, reason: "invalid" };
      const now = clock();
      const outcome = await db.transaction().execute(async (trx): Promise<RefreshResult | Issue> => {
        const family = await lockFamily(trx, found.family_id);
        if (!family) return { ok: false, reason: "invalid" };
        const fail = (reason: RefreshFailure): RefreshResult => ({ ok: false, reason, userId: family.user_id, familyId: family.id });
        if (family.revoked_at !== null) return fail("revoked");
        if (familyEnded(family, now)) {
          await revokeFamily(trx, family.id, now, "expired");
          return fail("expired");
        }
        // Re-read under the lock: a concurrent refresh may have rotated it.
        const token = await findRefreshTokenByHash(trx, hash);
        if (!token) return fail("invalid");
        if (token.rotated_at !== null) {
          const again = await retriedSuccessor(trx, family, token, presented, now);
          if (!again) {
            const sequence = await revokeFamily(trx, family.id, now, "reuse_detected");
            return { ...fail("reuse_detected"), sequence } as RefreshResult;
          }
          if (!(await userActive(trx, family.user_id))) return fail("user_disabled");
          await touchFamily(trx, family.id, now);
          return { ok: "issue", userId: family.user_id, familyId: family.id, refreshToken: again.value, expiresAt: again.expiresAt, signIn: signInOf(family) };
        }
        if (token.expires_at.getTime() <= now.getTime()) return fail("expired");
        if (!(await userActive(trx, family.user_id))) return fail("user_disabled");
        const next = newRefreshToken();
        const successorId = randomUUID();
        const expiresAt = refreshExpiry(now, family);
        await markRotated(trx, token.id, now, successorId);
        await insertRefreshToken(trx, { id: successorId, familyId: family.id, tokenHash: hashRefreshToken(next), now, expiresAt });
        await touchFamily(trx, family.id, now, sealSuccessor(presented, { familyId: family.id, tokenId: token.id }, next));
        return { ok: "issue", userId: family.user_id, familyId: family.id, refreshToken: next, expiresAt, signIn: signInOf(family) };
      });
      if (outcome.ok !== "issue") return outcome;
      return {
        ok: true,
        familyId: outcome.familyId,
        tokens: await tokensFor(outcome.userId, outcome.familyId, outcome.refreshToken, outcome.expiresAt, now, outcome.signIn),
      };
    },

    async logout(presented) {
      if (!isRefreshTokenFormat(presented)) return undefined;
      const token = await findRefreshTokenByHash(db, hashRefreshToken(presented));
      if (!token) return undefined;
      const family = await findFamily(db, token.family_id);
      if (!family) return undefined;
      const sequence = await revokeFamily(db, family.id, clock(), "logout");
      return sequence ? { userId: family.user_id, familyId: family.id, sequence } : undefined;
    },
  };
}
