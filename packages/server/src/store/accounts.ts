/**
 * Accounts repository.
 */
import { sql, type Kysely } from "kysely";
import type { AccountRow, Database, RoleName } from "./schema.js";

/**
 * The user's personal account, created with the user as its admin when missing.
 * Safe under concurrency: the unique personal_user_id makes exactly one.
 */
export async function ensurePersonalAccount(db: Kysely<Database>, userId: string, name = "personal"): Promise<AccountRow> {
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto("accounts")
      .values({ kind: "personal", name, personal_user_id: userId })
      .onConflict((oc) => oc.column("personal_user_id").doNothing())
      .execute();
    const account = await trx.selectFrom("accounts").selectAll().where("personal_user_id", "=", userId).executeTakeFirstOrThrow();
    await trx
      .insertInto("memberships")
      .values({ account_id: account.id, user_id: userId, role: "admin" })
      .onConflict((oc) => oc.columns(["account_id", "user_id"]).doUpdateSet({ role: "admin", updated_at: sql`now()` }))
      .execute();
    return account;
  });
}

/** An account by id. */
export async function findAccountById(db: Kysely<Database>, accountId: string): Promise<AccountRow | undefined> {
  return db.selectFrom("accounts").selectAll().where("id", "=", accountId).executeTakeFirst();
}

/** An account with the user's role in it. */
export interface UserAccountRow extends AccountRow {
  role: RoleName;
}

/** The user's accounts with its role in each, oldest first. */
export async function listUserAccounts(db: Kysely<Database>, userId: string): Promise<UserAccountRow[]> {
  return db
    .selectFrom("memberships as m")
    .innerJoin("accounts as a", "a.id", "m.account_id")
    .selectAll("a")
    .select("m.role")
    .where("m.user_id", "=", userId)
    .orderBy("a.created_at")
    .orderBy("a.id")
    .execute();
}

/**
 * Locks the user's row until the transaction ends, serialising account creation per
 * user (so the duplicate-name check cannot race). Returns false when the user does not exist.
 */
export async function lockUserForAccountCreation(trx: Kysely<Database>, userId: string): Promise<boolean> {
  const row = await trx.selectFrom("users").select("id").where("id", "=", userId).forUpdate().executeTakeFirst();
  return row !== undefined;
}

/** Whether the user is a member of an account with this name (case-insensitive). */
export async function userHasAccountNamed(db: Kysely<Database>, userId: string, name: string): Promise<boolean> {
  const row = await db
    .selectFrom("memberships as m")
    .innerJoin("accounts as a", "a.id", "m.account_id")
    .select("a.id")
    .where("m.user_id", "=", userId)
    .where(sql<string>`lower(a.name)`, "=", name.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

/** Creates a team account with the user as its admin. Run inside the caller's transaction. */
export async function insertTeamAccount(trx: Kysely<Database>, name: string, adminUserId: string): Promise<AccountRow> {
  const account = await trx.insertInto("accounts").values({ kind: "team", name }).returningAll().executeTakeFirstOrThrow();
  await trx.insertInto("memberships").values({ account_id: account.id, user_id: adminUserId, role: "admin" }).execute();
  return account;
}

/** Locks the account row until the transaction ends (serialises member and role changes). */
export async function lockAccount(trx: Kysely<Database>, accountId: string): Promise<AccountRow | undefined> {
  return trx.selectFrom("accounts").selectAll().where("id", "=", accountId).forUpdate().executeTakeFirst();
}

/**
 * Like ensurePersonalAccount, and tells whether this call created the account (for the
 * audit trail). Exactly one of any number of concurrent callers gets `created: true`.
 */
export async function ensurePersonalAccountReporting(
  db: Kysely<Database>,
  userId: string,
  name = "personal",
): Promise<{ account: AccountRow; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto("accounts")
      .values({ kind: "personal", name, personal_user_id: userId })
      .onConflict((oc) => oc.column("personal_user_id").doNothing())
      .returningAll()
      .executeTakeFirst();
    const account = inserted ?? (await trx.selectFrom("accounts").selectAll().where("personal_user_id", "=", userId).executeTakeFirstOrThrow());
    await trx
      .insertInto("memberships")
      .values({ account_id: account.id, user_id: userId, role: "admin" })
      .onConflict((oc) => oc.columns(["account_id", "user_id"]).doUpdateSet({ role: "admin", updated_at: sql`now()` }))
      .execute();
    return { account, created: inserted !== undefined };
  });
}
