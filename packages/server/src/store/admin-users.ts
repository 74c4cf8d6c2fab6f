/**
 * The instance admin's view of users (AdminService, issue 19): a keyset-paged search
 * of human users, newest first. Returns rows, never ConnectErrors. The search is a
 * parameterized ILIKE whose pattern has `\`, `%` and `_` escaped, so they match
 * themselves.
 */
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/** Where a page starts: the `(created_at, id)` of the last row of the page before. */
export interface Cursor {
  /** `created_at` as PostgreSQL's text (microseconds kept: a JS Date would lose them). */
  ts: string;
  id: string;
}

/** A human user as the admin listings show it. */
export interface AdminUserRow {
  id: string;
  email: string | null;
  name: string | null;
  disabled_at: Date | null;
  is_instance_admin: boolean;
  email_verified: boolean;
  has_password: boolean;
  created_at: Date;
  /** Start of the newest stored session, or null. */
  last_sign_in_at: Date | null;
  /** `created_at` as text, for the next page's cursor. */
  cursor_ts: string;
}

/** Which users a page lists. */
export interface UserFilter {
  /** A substring of the email or name (case-insensitive); empty: any. */
  query: string;
  disabled: "any" | "only" | "none";
}

/** A LIKE pattern matching `text` anywhere, with its wildcards and the escape character escaped. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function usersQuery(db: Kysely<Database>) {
  return db
    .selectFrom("users as u")
    .select(["u.id", "u.email", "u.name", "u.disabled_at", "u.is_instance_admin", "u.created_at"])
    .select([
      sql<boolean>`u.password_hash is not null`.as("has_password"),
      sql<boolean>`(u.email_verified_at is not null or exists (
        select 1 from identities i
        where i.user_id = u.id and i.email_verified and i.email is not null and lower(i.email) = lower(u.email)))`.as("email_verified"),
      sql<Date | null>`(select max(f.created_at) from refresh_families f where f.user_id = u.id)`.as("last_sign_in_at"),
      sql<string>`u.created_at::text`.as("cursor_ts"),
    ])
    .where("u.kind", "=", "human");
}

/** One page of human users, newest first; `limit` rows at most. */
export async function listUsersPage(db: Kysely<Database>, filter: UserFilter, limit: number, after: Cursor | undefined): Promise<AdminUserRow[]> {
  let q = usersQuery(db);
  if (filter.query !== "") {
    const pattern = containsPattern(filter.query);
    q = q.where(sql<boolean>`(u.email ilike ${pattern} escape '\\' or u.name ilike ${pattern} escape '\\')`);
  }
  if (filter.disabled === "only") q = q.where("u.disabled_at", "is not", null);
  if (filter.disabled === "none") q = q.where("u.disabled_at", "is", null);
  if (after) q = q.where(sql<boolean>`(u.created_at, u.id) < (${after.ts}::timestamptz, ${after.id}::uuid)`);
  return q.orderBy("u.created_at", "desc").orderBy("u.id", "desc").limit(limit).execute();
}

/** A human user by id, or undefined (machine users too). */
export async function findAdminUser(db: Kysely<Database>, userId: string): Promise<AdminUserRow | undefined> {
  return usersQuery(db).where("u.id", "=", userId).executeTakeFirst();
}
