/**
 * API keys repository: all SQL about API keys and their machine users. Returns rows
 * or undefined, never ConnectErrors; services own the transactions.
 */
import { sql, type Kysely } from "kysely";
import type { ApiKeyBudgetJson, ApiKeyRateLimitJson, ApiKeyRow, Database } from "./schema.js";

/** What verification needs of a key, found by the hash of its value or of its old value. */
export interface ApiKeyAuthRow {
  /** SHA-256 (hex) of the key's value. */
  key_hash: string;
  /** SHA-256 (hex) of its old value during an overlap, else null. */
  previous_key_hash: string | null;
  /** When the old value stops, else null. */
  previous_expires_at: Date | null;
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
 * The verification views of keys whose value or old value has one of these hashes, in
 * one query (the caller matches each hash to its row and says which value it is).
 */
export async function findApiKeyAuthByHashes(db: Kysely<Database>, keyHashes: readonly string[]): Promise<ApiKeyAuthRow[]> {
  const one = keyHashes.length === 1;
  return db
    .selectFrom("api_keys")
    .innerJoin("users", "users.id", "api_keys.user_id")
    .select([
      "api_keys.key_hash",
      "api_keys.previous_key_hash",
      "api_keys.previous_expires_at",
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
    .where((eb) =>
      eb.or([
        eb("api_keys.key_hash", one ? "=" : "in", one ? keyHashes[0]! : keyHashes),
        eb("api_keys.previous_key_hash", one ? "=" : "in", one ? keyHashes[0]! : keyHashes),
      ]),
    )
    .execute();
}

/** What a regenerate must know of a key's values, read under a row lock. */
export interface ApiKeyValuesRow {
  key_hash: string;
  start: string;
  expires_at: Date;
  previous_key_hash: string | null;
  previous_start: string | null;
  previous_expires_at: Date | null;
}

/** Locks a key's row for the rest of the transaction; its value hashes, or undefined. */
export async function lockApiKeyValues(db: Kysely<Database>, id: string): Promise<ApiKeyValuesRow | undefined> {
  return db
    .selectFrom("api_keys")
    .select(["key_hash", "start", "expires_at", "previous_key_hash", "previous_start", "previous_expires_at"])
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Gives a key a new value and expiry, and its old value (`previous`: kept valid until
 * `expires_at`) or none; undefined when the key no longer exists.
 */
export async function updateApiKeyValue(
  db: Kysely<Database>,
  id: string,
  values: {
    key_hash: string;
    start: string;
    expires_at: Date;
    previous: { key_hash: string; start: string; expires_at: Date } | null;
    updated_by_id: string | null;
    now: Date;
  },
): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable("api_keys")
    .set({
      key_hash: values.key_hash,
      start: values.start,
      expires_at: values.expires_at,
      previous_key_hash: values.previous?.key_hash ?? null,
      previous_start: values.previous?.start ?? null,
      previous_expires_at: values.previous?.expires_at ?? null,
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

/** Value hashes (old values during an overlap too) of every key whose machine user is the given user (for cache invalidation). */
export async function findApiKeyHashesByUser(db: Kysely<Database>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom("api_keys").select(["key_hash", "previous_key_hash"]).where("user_id", "=", userId).execute();
  return rows.flatMap((r) => (r.previous_key_hash ? [r.key_hash, r.previous_key_hash] : [r.key_hash]));
}

/**
 * Uses written per statement: four bind parameters each, far below PostgreSQL's limit of
 * 65,535 parameters a statement, and small enough that one flush never builds a huge query.
 */
const LAST_USED_CHUNK = 1000;

/** One recorded use of a key: when, and from where (already bounded by the caller). */
export interface ApiKeyUse {
  id: string;
  at: Date;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** Writes last_used_at (with its IP and user agent) for many keys, a chunk per statement; never moves it backwards. */
export async function touchApiKeysLastUsed(db: Kysely<Database>, uses: ReadonlyArray<ApiKeyUse>): Promise<void> {
  for (let i = 0; i < uses.length; i += LAST_USED_CHUNK) {
    const values = sql.join(
      uses
        .slice(i, i + LAST_USED_CHUNK)
        .map((u) => sql`(${u.id}::uuid, ${u.at.toISOString()}::timestamptz, ${u.ip ?? null}::text, ${u.userAgent ?? null}::text)`),
    );
    await sql`
      update api_keys set last_used_at = v.at, last_used_ip = v.ip, last_used_user_agent = v.ua
      from (values ${values}) as v(id, at, ip, ua)
      where api_keys.id = v.id and (api_keys.last_used_at is null or api_keys.last_used_at < v.at)
    `.execute(db);
  }
}
