/**
 * Signing keys repository: Tessera's own JWT keys. The private JWK lives in the
 * database (protect database backups accordingly). Returns rows, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import type { Database, SigningKeyRow } from "./schema.js";
import { inRevocationTransaction, insertRevocations } from "./revocation-log.js";

/** A new key to store. */
export interface NewSigningKey {
  id: string;
  alg: string;
  privateJwk: Record<string, unknown>;
  publicJwk: Record<string, unknown>;
  createdAt: Date;
}

/** Keys that may still verify tokens at `now`: active ones and retired ones still published. Newest first. */
export async function listUsableSigningKeys(db: Kysely<Database>, now: Date): Promise<SigningKeyRow[]> {
  return db
    .selectFrom("signing_keys")
    .selectAll()
    .where((eb) => eb.or([eb("retired_at", "is", null), eb("publish_until", ">", now)]))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
}

/**
 * Creates the first active key unless one exists. Serialised with an advisory lock so
 * two processes starting together create exactly one. Returns true when it created one.
 */
export async function ensureActiveSigningKey(db: Kysely<Database>, make: () => Promise<NewSigningKey>): Promise<boolean> {
  const key = await make();
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('tessera.signing_keys'))`.execute(trx);
    const active = await trx.selectFrom("signing_keys").select("id").where("retired_at", "is", null).executeTakeFirst();
    if (active) return false;
    await insertKey(trx, key);
    return true;
  });
}

/**
 * Adds a new active key and retires every other active key: retired keys stay
 * published until `publishUntil`. Returns the retired keys' ids.
 */
export async function rotateSigningKey(db: Kysely<Database>, key: NewSigningKey, publishUntil: Date): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('tessera.signing_keys'))`.execute(trx);
    const retired = await trx
      .updateTable("signing_keys")
      .set({ retired_at: key.createdAt, publish_until: publishUntil })
      .where("retired_at", "is", null)
      .returning("id")
      .execute();
    await insertKey(trx, key);
    return retired.map((r) => r.id);
  });
}

/**
 * Deletes retired keys no longer published (housekeeping), recording each as withdrawn
 * (`signing_key` in the revocation log) in the same transaction, so subscribers that
 * cached it drop it. Returns how many.
 */
export async function deleteExpiredSigningKeys(db: Kysely<Database>, now: Date): Promise<number> {
  return inRevocationTransaction(db, async (trx) => {
    const rows = await trx.deleteFrom("signing_keys").where("retired_at", "is not", null).where("publish_until", "<=", now).returning("id").execute();
    await insertRevocations(
      trx,
      rows.map((r) => ({ kind: "signing_key" as const, target: r.id })),
    );
    return rows.length;
  });
}

async function insertKey(db: Kysely<Database>, key: NewSigningKey): Promise<void> {
  await db
    .insertInto("signing_keys")
    .values({
      id: key.id,
      alg: key.alg,
      private_jwk: JSON.stringify(key.privateJwk),
      public_jwk: JSON.stringify(key.publicJwk),
      created_at: key.createdAt,
    })
    .execute();
}
