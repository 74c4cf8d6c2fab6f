/**
 * Memberships repository.
 */
import { sql, type Kysely } from "kysely";
import type { Database, RoleName, UserKind } from "./schema.js";

/** The user's role in the account, or undefined when not a member (or the account does not exist). */
export async function findRole(db: Kysely<Database>, accountId: string, userId: string): Promise<RoleName | undefined> {
  const row = await db.selectFrom("memberships").select("role").where("account_id", "=", accountId).where("user_id", "=", userId).executeTakeFirst();
  return row?.role;
}

/** A member of an account with the user's profile. */
export interface MemberRow {
  user_id: string;
  role: RoleName;
  kind: UserKind;
  email: string | null;
  name: string | null;
  image: string | null;
  has_password: boolean;
  created_at: Date;
}

/** The account's members with their profiles, oldest membership first. */
export async function listMembers(db: Kysely<Database>, accountId: string): Promise<MemberRow[]> {
  return db
    .selectFrom("memberships as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .select(["m.user_id", "m.role", "u.kind", "u.email", "u.name", "u.image", "m.created_at"])
    .select(sql<boolean>`u.password_hash is not null`.as("has_password"))
    .where("m.account_id", "=", accountId)
    .orderBy("m.created_at")
    .orderBy("m.user_id")
    .execute();
}

/** Every membership of the account, locked until the transaction ends (`FOR UPDATE`). */
export async function lockMemberships(trx: Kysely<Database>, accountId: string): Promise<Array<{ user_id: string; role: RoleName }>> {
  return trx.selectFrom("memberships").select(["user_id", "role"]).where("account_id", "=", accountId).forUpdate().execute();
}

/** Changes a member's role; returns whether a membership was updated. */
export async function updateRole(db: Kysely<Database>, accountId: string, userId: string, role: RoleName): Promise<boolean> {
  const r = await db
    .updateTable("memberships")
    .set({ role, updated_at: sql`now()` })
    .where("account_id", "=", accountId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Removes a membership; returns whether one was removed. */
export async function deleteMembership(db: Kysely<Database>, accountId: string, userId: string): Promise<boolean> {
  const r = await db.deleteFrom("memberships").where("account_id", "=", accountId).where("user_id", "=", userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Adds a membership unless the user already is a member (keeping its role); returns whether it was added. */
export async function insertMembershipIfAbsent(db: Kysely<Database>, accountId: string, userId: string, role: RoleName): Promise<boolean> {
  const rows = await db
    .insertInto("memberships")
    .values({ account_id: accountId, user_id: userId, role })
    .onConflict((oc) => oc.columns(["account_id", "user_id"]).doNothing())
    .returning("user_id")
    .execute();
  return rows.length > 0;
}
