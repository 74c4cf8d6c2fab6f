/**
 * The configured admin of AUTH_MODE=admin (issue 13, findings 2 and 3): which user it
 * is, and what startup does to every other user. Returns rows or counts, never
 * ConnectErrors; the admin-mode startup owns the transaction.
 */
import { sql, type Kysely } from "kysely";
import type { ConfiguredAdminRow, Database } from "./schema.js";

/** The configured admin row, locked for the rest of the transaction; undefined before the first admin-mode start. */
export async function lockConfiguredAdmin(db: Kysely<Database>): Promise<ConfiguredAdminRow | undefined> {
  return db.selectFrom("configured_admin").selectAll().forUpdate().executeTakeFirst();
}

/** The id of the user AUTH_MODE=admin last configured, if any. */
export async function findConfiguredAdminId(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom("configured_admin").select("user_id").executeTakeFirst();
  return row?.user_id;
}

/** Records the configured admin and when its credentials last changed. */
export async function saveConfiguredAdmin(db: Kysely<Database>, userId: string, credentialsChangedAt: Date | null, now: Date): Promise<void> {
  await db
    .insertInto("configured_admin")
    .values({ singleton: true, user_id: userId, credentials_changed_at: credentialsChangedAt, updated_at: now })
    .onConflict((oc) => oc.column("singleton").doUpdateSet({ user_id: userId, credentials_changed_at: credentialsChangedAt, updated_at: now }))
    .execute();
}

/**
 * Makes the user the configured admin: email as configured, instance admin, not
 * disabled, and the new password hash when given. Only while its hash is still
 * `expectedHash` (a concurrent start may have changed it); false otherwise.
 */
export async function updateConfiguredAdminUser(
  db: Kysely<Database>,
  userId: string,
  u: { email: string; expectedHash: string | null; passwordHash?: string | undefined; now: Date },
): Promise<boolean> {
  let q = db
    .updateTable("users")
    .set({
      email: u.email,
      is_instance_admin: true,
      disabled_at: null,
      updated_at: u.now,
      ...(u.passwordHash !== undefined ? { password_hash: u.passwordHash } : {}),
    })
    .where("id", "=", userId);
  q = u.expectedHash === null ? q.where("password_hash", "is", null) : q.where("password_hash", "=", u.expectedHash);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Takes the instance-admin flag from every user but `keepUserId`; returns how many lost it. */
export async function clearOtherInstanceAdmins(db: Kysely<Database>, keepUserId: string, now: Date): Promise<number> {
  const res = await db
    .updateTable("users")
    .set({ is_instance_admin: false, updated_at: now })
    .where("is_instance_admin", "=", true)
    .where("id", "!=", keepUserId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/**
 * Revokes every open session (refresh family) of `scope`: one user, or every user but
 * `keepUserId`. Returns how many it ended.
 */
export async function revokeSessionsOf(db: Kysely<Database>, scope: { userId: string } | { allBut: string }, now: Date, reason: string): Promise<number> {
  const row = await db
    .with("revoked", (d) => {
      let q = d.updateTable("refresh_families").set({ revoked_at: now, revoked_reason: reason }).where("revoked_at", "is", null);
      q = "userId" in scope ? q.where("user_id", "=", scope.userId) : q.where("user_id", "!=", scope.allBut);
      return q.returning("id");
    })
    .selectFrom("revoked")
    .select(sql<string>`count(*)`.as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
