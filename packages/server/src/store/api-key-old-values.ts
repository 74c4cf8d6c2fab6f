/**
 * The old value of an API key during a rotation overlap (issue 19): ending it early
 * (RevokeOldAccountApiKeyValue) and finding overlaps that ended (the sweep). Only the
 * old value's hash is stored, never the value. Returns rows, never ConnectErrors;
 * services own the transactions.
 */
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/** A key whose old value just ended. */
export interface EndedOldValueRow {
  id: string;
  account_id: string;
  name: string;
  previous_key_hash: string;
  previous_start: string | null;
  previous_expires_at: Date;
}

/** Ends a key's old value now; the ended value's row, or undefined when the key has none (or is gone). */
export async function clearOldApiKeyValue(db: Kysely<Database>, id: string, now: Date): Promise<EndedOldValueRow | undefined> {
  const before = await db
    .selectFrom("api_keys")
    .select(["id", "account_id", "name", "previous_key_hash", "previous_start", "previous_expires_at"])
    .where("id", "=", id)
    .where("previous_key_hash", "is not", null)
    .forUpdate()
    .executeTakeFirst();
  if (!before?.previous_key_hash || !before.previous_expires_at) return undefined;
  await db
    .updateTable("api_keys")
    .set({ previous_key_hash: null, previous_start: null, previous_expires_at: null, updated_at: now })
    .where("id", "=", id)
    .execute();
  return { ...before, previous_key_hash: before.previous_key_hash, previous_expires_at: before.previous_expires_at };
}

/** Whether some old value's overlap ended at or before `now` (one indexed probe, no transaction). */
export async function anyEndedOldApiKeyValue(db: Kysely<Database>, now: Date): Promise<boolean> {
  const row = await db.selectFrom("api_keys").select("id").where("previous_expires_at", "<=", now).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Clears at most `limit` old values whose overlap ended at or before `now`, skipping rows
 * another instance is clearing; returns what was cleared (each by one instance only).
 */
export async function clearEndedOldApiKeyValues(db: Kysely<Database>, now: Date, limit: number): Promise<EndedOldValueRow[]> {
  const result = await sql<EndedOldValueRow>`
    with ended as (
      select id, previous_key_hash, previous_start, previous_expires_at from api_keys
      where previous_expires_at is not null and previous_expires_at <= ${now.toISOString()}::timestamptz
      order by previous_expires_at
      limit ${limit}
      for update skip locked
    )
    update api_keys set previous_key_hash = null, previous_start = null, previous_expires_at = null
    from ended
    where api_keys.id = ended.id
    returning api_keys.id, api_keys.account_id, api_keys.name, ended.previous_key_hash, ended.previous_start, ended.previous_expires_at
  `.execute(db);
  return result.rows;
}
