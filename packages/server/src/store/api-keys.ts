/**
 * API keys repository: all SQL about API keys and their machine users. Returns rows
 * or undefined, never ConnectErrors; services own the transactions.
 */
import { sql, type Kysely } from "kysely";
import type { ApiKeyBudgetJson, ApiKeyRateLimitJson, ApiKeyRow, Database } from "./schema.js";

/** What verification needs of a key, found by its hash. */
export interface ApiKeyAuthRow {
  id: string;
  account_id: string;
  user_id: string;
  expires_at: Date;
  last_used_at: Date | null;
  /** When the key's machine user was disabled, or null. */
  user_disabled_at: Date | null;
  /** Who created the key (null once that user is deleted). */
  created_by_id: string | null;
  /** The key's scopes; empty: unrestricted. */
  scopes: string[];
  rate_limits: ApiKeyRateLimitJson[];
  budget: ApiKeyBudgetJson | null;
  /** The client certificate the key is bound to (RFC 8705 thumbprint), or null. */
  client_cert_thumbprint: string | null;
}

/** Inserts a machine user (the identity of one API key) and returns its id. */
export async function insertMachineUser(db: Kysely<Database>, name: string): Promise<string> {
  const row = await db.insertInto("users").values({ kind: "machine", name }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

/** Inserts a key row. */
export async function insertApiKey(
  db: Kysely<Database>,
  values: {
    account_id: string;
    name: string;
    key_hash: string;
    start: string;
    user_id: string;
    created_by_id: string | null;
    expires_at: Date;
    /** Validated scopes; empty or absent: unrestricted. */
    scopes?: string[];
    /** Validated rate limits; absent: none. */
    rate_limits?: ApiKeyRateLimitJson[];
    /** Validated budget; absent: none. */
    budget?: ApiKeyBudgetJson;
    /** The client certificate's thumbprint the key is bound to; absent: not bound. */
    client_cert_thumbprint?: string;
    now: Date;
  },
): Promise<ApiKeyRow> {
  const { now, rate_limits, budget, ...rest } = values;
  return db
    .insertInto("api_keys")
    .values({
      ...rest,
      rate_limits: JSON.stringify(rate_limits ?? []),
      budget: budget ? JSON.stringify(budget) : null,
      created_at: now,
      updated_at: now,
      updated_by_id: values.created_by_id,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A key by id. */
export async function findApiKeyById(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
}

/** An account's keys, oldest first. */
export async function listApiKeysByAccount(db: Kysely<Database>, accountId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom("api_keys").selectAll().where("account_id", "=", accountId).orderBy("created_at").orderBy("id").execute();
}

/**
 * The verification views of keys by the hashes of their values, in one query. Hashes
 * with no key are absent from the map.
 */
export async function findApiKeyAuthByHashes(db: Kysely<Database>, keyHashes: readonly string[]): Promise<Map<string, ApiKeyAuthRow>> {
  const rows = await db
    .selectFrom("api_keys")
    .innerJoin("users", "users.id", "api_keys.user_id")
    .select([
      "api_keys.key_hash",
      "api_keys.id",
      "api_keys.account_id",
      "api_keys.user_id",
      "api_keys.expires_at",
      "api_keys.last_used_at",
      "users.disabled_at as user_disabled_at",
      "api_keys.created_by_id",
      "api_keys.scopes",
      "api_keys.rate_limits",
      "api_keys.budget",
      "api_keys.client_cert_thumbprint",
    ])
    .where("api_keys.key_hash", keyHashes.length === 1 ? "=" : "in", keyHashes.length === 1 ? keyHashes[0]! : keyHashes)
    .execute();
  return new Map(rows.map(({ key_hash, ...row }) => [key_hash, row]));
}

/** Locks a key's row for the rest of the transaction; its current hash, or undefined. */
export async function lockApiKeyHash(db: Kysely<Database>, id: string): Promise<string | undefined> {
  const row = await db.selectFrom("api_keys").select("key_hash").where("id", "=", id).forUpdate().executeTakeFirst();
  return row?.key_hash;
}

/** Gives a key a new value and expiry; undefined when the key no longer exists. */
export async function updateApiKeyValue(
  db: Kysely<Database>,
  id: string,
  values: { key_hash: string; start: string; expires_at: Date; updated_by_id: string | null; now: Date },
): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable("api_keys")
    .set({
      key_hash: values.key_hash,
      start: values.start,
      expires_at: values.expires_at,
      updated_by_id: values.updated_by_id,
      updated_at: values.now,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes a key and its machine user; returns the deleted key row, or undefined. */
export async function deleteApiKeyAndUser(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  const row = await db.deleteFrom("api_keys").where("id", "=", id).returningAll().executeTakeFirst();
  if (!row) return undefined;
  await db.deleteFrom("users").where("id", "=", row.user_id).where("kind", "=", "machine").execute();
  return row;
}

/** Key hashes of every key whose machine user is the given user (for cache invalidation). */
export async function findApiKeyHashesByUser(db: Kysely<Database>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom("api_keys").select("key_hash").where("user_id", "=", userId).execute();
  return rows.map((r) => r.key_hash);
}

/**
 * Uses written per statement: two bind parameters each, far below PostgreSQL's limit of
 * 65,535 parameters a statement, and small enough that one flush never builds a huge query.
 */
const LAST_USED_CHUNK = 1000;

/** Writes last_used_at for many keys, a chunk per statement; never moves it backwards. */
export async function touchApiKeysLastUsed(db: Kysely<Database>, uses: ReadonlyArray<{ id: string; at: Date }>): Promise<void> {
  for (let i = 0; i < uses.length; i += LAST_USED_CHUNK) {
    const values = sql.join(uses.slice(i, i + LAST_USED_CHUNK).map((u) => sql`(${u.id}::uuid, ${u.at.toISOString()}::timestamptz)`));
    await sql`
      update api_keys set last_used_at = v.at
      from (values ${values}) as v(id, at)
      where api_keys.id = v.id and (api_keys.last_used_at is null or api_keys.last_used_at < v.at)
    `.execute(db);
  }
}
