/**
 * The instance admin's view of API keys (AdminService, issue 19): every account's keys,
 * keyset-paged newest first, with their account's name and their creator's email; and
 * the creators' emails an account's own listing shows. Returns rows, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import type { Cursor } from "./admin-users.js";
import type { ApiKeyRow, Database } from "./schema.js";

/** A key with its account's name and its creator's email. */
export interface AdminApiKeyRow extends ApiKeyRow {
  account_name: string;
  created_by_email: string | null;
  /** `created_at` as text, for the next page's cursor. */
  cursor_ts: string;
}

/** Which keys a page lists; every field optional. */
export interface ApiKeyFilter {
  accountId?: string;
  createdById?: string;
  /** Not expired at `now`, and expiring by this time. */
  expiringBy?: Date;
  /** Last used (or, never used, created) before this time. */
  unusedSince?: Date;
  now: Date;
}

/** One page of keys across accounts, newest first; `limit` rows at most. */
export async function listApiKeysPage(db: Kysely<Database>, filter: ApiKeyFilter, limit: number, after: Cursor | undefined): Promise<AdminApiKeyRow[]> {
  let q = db
    .selectFrom("api_keys as k")
    .innerJoin("accounts as a", "a.id", "k.account_id")
    .leftJoin("users as c", "c.id", "k.created_by_id")
    .selectAll("k")
    .select(["a.name as account_name", "c.email as created_by_email", sql<string>`k.created_at::text`.as("cursor_ts")]);
  if (filter.accountId) q = q.where("k.account_id", "=", filter.accountId);
  if (filter.createdById) q = q.where("k.created_by_id", "=", filter.createdById);
  if (filter.expiringBy) q = q.where("k.expires_at", ">", filter.now).where("k.expires_at", "<=", filter.expiringBy);
  if (filter.unusedSince) q = q.where(sql<boolean>`coalesce(k.last_used_at, k.created_at) < ${filter.unusedSince}`);
  if (after) q = q.where(sql<boolean>`(k.created_at, k.id) < (${after.ts}::timestamptz, ${after.id}::uuid)`);
  return q.orderBy("k.created_at", "desc").orderBy("k.id", "desc").limit(limit).execute();
}

/**
 * The emails of the keys' creators, by user id. With `membersOf`, only creators who are
 * members of that account now (whose emails its member listing shows anyway).
 */
export async function findCreatorEmails(db: Kysely<Database>, creatorIds: readonly string[], membersOf?: string): Promise<Map<string, string>> {
  const ids = [...new Set(creatorIds)];
  if (ids.length === 0) return new Map();
  let q = db.selectFrom("users as u").select(["u.id", "u.email"]).where("u.id", "in", ids).where("u.email", "is not", null);
  if (membersOf) {
    const account = membersOf;
    q = q.where((eb) =>
      eb.exists(eb.selectFrom("memberships as m").select(sql`1`.as("one")).whereRef("m.user_id", "=", "u.id").where("m.account_id", "=", account)),
    );
  }
  const rows = await q.execute();
  return new Map(rows.map((r) => [r.id, r.email ?? ""]));
}
