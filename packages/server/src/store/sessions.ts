/**
 * Sessions repository: refresh families (one per sign-in) and their refresh tokens
 * (stored as SHA-256 hashes). Returns rows, never ConnectErrors. Services own the
 * transaction boundary: functions taking `Kysely<Database>` work on a transaction too.
 */
import type { Kysely } from "kysely";
import type { Database, RefreshFamilyRow, RefreshTokenRow } from "./schema.js";
import { inRevocationTransaction, insertRevocations } from "./revocation-log.js";

export interface NewFamily {
  userId: string;
  now: Date;
  expiresAt: Date;
  clientIp: string | null;
  userAgent: string | null;
  /** RFC 8176 `amr` values, space-separated. */
  amr: string;
  assuranceLevel: number;
}

/** Creates a refresh family (a session). */
export async function insertFamily(db: Kysely<Database>, f: NewFamily): Promise<RefreshFamilyRow> {
  return db
    .insertInto("refresh_families")
    .values({
      user_id: f.userId,
      created_at: f.now,
      last_used_at: f.now,
      expires_at: f.expiresAt,
      client_ip: f.clientIp,
      user_agent: f.userAgent,
      amr: f.amr,
      assurance_level: f.assuranceLevel,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Stores a refresh token's hash in a family (with the given row id, when the caller needs it beforehand). */
export async function insertRefreshToken(
  db: Kysely<Database>,
  t: { id?: string; familyId: string; tokenHash: string; now: Date; expiresAt: Date },
): Promise<RefreshTokenRow> {
  return db
    .insertInto("refresh_tokens")
    .values({ ...(t.id ? { id: t.id } : {}), family_id: t.familyId, token_hash: t.tokenHash, created_at: t.now, expires_at: t.expiresAt })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A refresh token by the hash of its value. */
export async function findRefreshTokenByHash(db: Kysely<Database>, tokenHash: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom("refresh_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
}

/** A refresh token by id. */
export async function findRefreshTokenById(db: Kysely<Database>, id: string): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom("refresh_tokens").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The family row locked FOR UPDATE (call inside a transaction): serialises refreshes of one session. */
export async function lockFamily(db: Kysely<Database>, familyId: string): Promise<RefreshFamilyRow | undefined> {
  return db.selectFrom("refresh_families").selectAll().where("id", "=", familyId).forUpdate().executeTakeFirst();
}

/** A family by id. */
export async function findFamily(db: Kysely<Database>, familyId: string): Promise<RefreshFamilyRow | undefined> {
  return db.selectFrom("refresh_families").selectAll().where("id", "=", familyId).executeTakeFirst();
}

/** Marks a token rotated, superseded by `replacedById` (only once: the grace window starts then). */
export async function markRotated(db: Kysely<Database>, tokenId: string, now: Date, replacedById: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ rotated_at: now, replaced_by_id: replacedById })
    .where("id", "=", tokenId)
    .where("rotated_at", "is", null)
    .execute();
}

/** Records use of the session (idle timeout restarts); after a rotation, with the newest token sealed for retries. */
export async function touchFamily(db: Kysely<Database>, familyId: string, now: Date, sealedSuccessor?: string): Promise<void> {
  await db
    .updateTable("refresh_families")
    .set({ last_used_at: now, ...(sealedSuccessor !== undefined ? { sealed_successor: sealedSuccessor } : {}) })
    .where("id", "=", familyId)
    .execute();
}

/**
 * Forgets the sealed successors no retry can use any more: of families last used before
 * `before` (now minus the grace window). Returns how many.
 */
export async function clearStaleSealedSuccessors(db: Kysely<Database>, before: Date): Promise<number> {
  const res = await db
    .updateTable("refresh_families")
    .set({ sealed_successor: null })
    .where("sealed_successor", "is not", null)
    .where("last_used_at", "<", before)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Revokes a family (idempotent: the first reason stays) and records it; returns the sequence, 0 when this call revoked nothing. */
export async function revokeFamily(db: Kysely<Database>, familyId: string, now: Date, reason: string): Promise<number> {
  return inRevocationTransaction(db, async (trx) => {
    const res = await trx
      .updateTable("refresh_families")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", familyId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return 0;
    return insertRevocations(trx, [{ kind: "session", target: familyId }]);
  });
}

/** Deletes sessions (and their tokens) that ended before `before`: expired or revoked. Returns how many. */
export async function deleteEndedFamilies(db: Kysely<Database>, before: Date): Promise<number> {
  const res = await db
    .deleteFrom("refresh_families")
    .where((eb) => eb.or([eb("expires_at", "<", before), eb("revoked_at", "<", before)]))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
