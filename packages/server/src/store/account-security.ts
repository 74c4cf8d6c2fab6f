/**
 * Account-security repository (issue 10): a user's sessions (refresh families) as
 * listed and revoked by their owner, password changes, and disabling users. Returns
 * rows or counts, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import type { Database, RefreshFamilyRow, UserKind } from "./schema.js";
import { inRevocationTransaction, insertRevocations, lockRevocationLog } from "./revocation-log.js";

/**
 * The user's sessions that are still open at `now`: not revoked, before their absolute
 * end, and used within the idle timeout. Newest first.
 */
export async function listOpenFamilies(db: Kysely<Database>, userId: string, now: Date, idleTimeoutSeconds: number): Promise<RefreshFamilyRow[]> {
  const idleCutoff = new Date(now.getTime() - idleTimeoutSeconds * 1000);
  return db
    .selectFrom("refresh_families")
    .selectAll()
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now)
    .where("last_used_at", ">", idleCutoff)
    .orderBy("created_at", "desc")
    .limit(1000)
    .execute();
}

/** Whether a session (refresh family) has been revoked; undefined when there is no such session. */
export async function findSessionStatus(db: Kysely<Database>, familyId: string): Promise<{ revoked: boolean } | undefined> {
  const row = await db.selectFrom("refresh_families").select("revoked_at").where("id", "=", familyId).executeTakeFirst();
  return row ? { revoked: row.revoked_at !== null } : undefined;
}

/** A family only if it belongs to the user (another user's id reads as absent). */
export async function findUserFamily(db: Kysely<Database>, userId: string, familyId: string): Promise<RefreshFamilyRow | undefined> {
  return db.selectFrom("refresh_families").selectAll().where("id", "=", familyId).where("user_id", "=", userId).executeTakeFirst();
}

/**
 * Revokes one of the user's families and records the revocation (session) in the same
 * transaction; returns its sequence, 0 when this call revoked nothing.
 */
export async function revokeUserFamily(db: Kysely<Database>, userId: string, familyId: string, now: Date, reason: string): Promise<number> {
  return inRevocationTransaction(db, async (trx) => {
    const res = await trx
      .updateTable("refresh_families")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", familyId)
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return 0;
    return insertRevocations(trx, [{ kind: "session", target: familyId }]);
  });
}

/** What revoking families did: how many were still usable, and the last revocation's sequence (0: none). */
export interface FamiliesRevoked {
  usable: number;
  sequence: number;
}

/**
 * Revokes every open family of the user, except `keepFamilyId` when given. Returns how
 * many sessions that were still usable at `now` this ended (already expired ones are
 * closed too but not counted), and the sequence of the last revocation recorded.
 */
export async function revokeUserFamilies(
  db: Kysely<Database>,
  userId: string,
  now: Date,
  reason: string,
  opts: { keepFamilyId?: string | undefined; idleTimeoutSeconds: number },
): Promise<FamiliesRevoked> {
  return revokeFamilies(db, { userId }, now, reason, opts);
}

/**
 * Revokes the open families of one user, or of every user (`"all"`), except
 * `keepFamilyId`, recording one revocation (session) per family in the same transaction;
 * returns how many of them were still usable (not idle, not past their end) and the
 * last sequence recorded. The same users' unused MFA challenges end with them.
 */
export async function revokeFamilies(
  db: Kysely<Database>,
  scope: { userId: string } | "all",
  now: Date,
  reason: string,
  opts: { keepFamilyId?: string | undefined; idleTimeoutSeconds: number },
): Promise<FamiliesRevoked> {
  const idleCutoff = new Date(now.getTime() - opts.idleTimeoutSeconds * 1000);
  return inRevocationTransaction(db, async (trx) => {
    // Sign-ins still waiting for their second factor were started under what is being
    // revoked (the old password, the sessions): they end too.
    let challenges = trx.updateTable("mfa_challenges").set({ used_at: now }).where("used_at", "is", null);
    if (scope !== "all") challenges = challenges.where("user_id", "=", scope.userId);
    await challenges.execute();
    // Counted in SQL: revoking every user's families must not ship every row to Node.
    const row = await trx
      .with("revoked", (d) => {
        let q = d.updateTable("refresh_families").set({ revoked_at: now, revoked_reason: reason }).where("revoked_at", "is", null);
        if (scope !== "all") q = q.where("user_id", "=", scope.userId);
        if (opts.keepFamilyId !== undefined) q = q.where("id", "!=", opts.keepFamilyId);
        return q.returning(["expires_at", "last_used_at"]);
      })
      .selectFrom("revoked")
      .select([sql<string>`count(*) filter (where expires_at > ${now} and last_used_at > ${idleCutoff})`.as("revoked"), sql<string>`count(*)`.as("all")])
      .executeTakeFirstOrThrow();
    if (Number(row.all) === 0) return { usable: 0, sequence: 0 };
    // The rows this transaction just revoked (its own writes: revoked at `now` for `reason`), one event each.
    await lockRevocationLog(trx);
    const rec = await trx
      .with("recorded", (d) => {
        let sel = d
          .selectFrom("refresh_families")
          .select([sql<"session">`'session'`.as("kind"), sql<string>`id::text`.as("target")])
          .where("revoked_at", "=", now)
          .where("revoked_reason", "=", reason);
        if (scope !== "all") sel = sel.where("user_id", "=", scope.userId);
        return d.insertInto("revocation_events").columns(["kind", "target"]).expression(sel).returning("sequence");
      })
      .selectFrom("recorded")
      .select(sql<string | null>`max(sequence)`.as("sequence"))
      .executeTakeFirstOrThrow();
    return { usable: Number(row.revoked), sequence: Number(rec.sequence ?? 0) };
  });
}

/** Replaces the password hash if it is still `expected` (ending the user's unused MFA challenges); false when it changed meanwhile. */
export async function replacePasswordHash(db: Kysely<Database>, userId: string, expected: string, passwordHash: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable("users")
    .set({ password_hash: passwordHash, updated_at: now })
    .where("id", "=", userId)
    .where("password_hash", "=", expected)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return false;
  // Sign-ins waiting for their second factor passed the old password: they end, even when the sessions stay.
  await db.updateTable("mfa_challenges").set({ used_at: now }).where("user_id", "=", userId).where("used_at", "is", null).execute();
  return true;
}

/** Sets or clears `disabled_at`; returns the user's kind, or undefined when there is no such user. */
export async function setUserDisabledAt(db: Kysely<Database>, userId: string, disabledAt: Date | null): Promise<{ kind: UserKind } | undefined> {
  const row = await db
    .updateTable("users")
    .set({ disabled_at: disabledAt, updated_at: new Date() })
    .where("id", "=", userId)
    .returning(["kind"])
    .executeTakeFirst();
  return row ? { kind: row.kind } : undefined;
}
