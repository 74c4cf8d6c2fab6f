/**
 * Bulk fixtures written straight into the bench database (SQL from the runner, not
 * through the API, so 100,000 keys take seconds): API keys in Tessera's format
 * (src/auth/api-key-format.ts), each with its machine user as the API creates them,
 * and password users sharing one argon2id hash (src/auth/passwords.ts).
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { apiKeyStart, generateApiKey, hashApiKey } from "../packages/server/src/auth/api-keys/format.js";
import { passwordHashing } from "../packages/server/src/auth/passwords/hashing.js";

/** `n` fresh API key values. */
export function generateKeys(n: number): string[] {
  const keys: string[] = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = generateApiKey();
  return keys;
}

const BATCH = 5_000;

/**
 * Inserts the keys (hash-only rows, as the API stores them) for `accountId`, one
 * machine user each, in batches of 5,000 rows, then ANALYZEs the tables.
 */
export async function insertApiKeys(pool: pg.Pool, accountId: string, createdById: string, keys: string[], namePrefix: string): Promise<void> {
  const expires = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  for (let off = 0; off < keys.length; off += BATCH) {
    const chunk = keys.slice(off, off + BATCH);
    const userIds = chunk.map(() => randomUUID());
    const keyIds = chunk.map(() => randomUUID());
    const names = chunk.map((_, i) => `${namePrefix}-${off + i}`);
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(`insert into users (id, kind, name) select u, 'machine', n from unnest($1::uuid[], $2::text[]) as t(u, n)`, [userIds, names]);
      await client.query(
        `insert into api_keys (id, account_id, name, key_hash, start, user_id, created_by_id, updated_by_id, expires_at)
         select k, $1::uuid, n, h, s, u, $2::uuid, $2::uuid, $3::timestamptz
         from unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::uuid[]) as t(k, n, h, s, u)`,
        [accountId, createdById, expires, keyIds, names, chunk.map(hashApiKey), chunk.map(apiKeyStart), userIds],
      );
      await client.query("commit");
    } catch (e) {
      await client.query("rollback").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
  await pool.query("analyze users");
  await pool.query("analyze api_keys");
}

/** Password users `bench-login-<i>@example.test` sharing `password` (one argon2id hash, Tessera's parameters). */
export async function insertLoginUsers(pool: pg.Pool, n: number, password: string): Promise<string[]> {
  const hash = await passwordHashing.hash(password);
  const emails = Array.from({ length: n }, (_, i) => `bench-login-${i}@example.test`);
  await pool.query(
    `insert into users (kind, email, email_normalized, name, password_hash)
     select 'human', e, e, 'bench', $2 from unnest($1::text[]) as t(e)`,
    [emails, hash],
  );
  return emails;
}
