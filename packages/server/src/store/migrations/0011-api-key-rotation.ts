/**
 * API-key rotation with overlap and last use (issue 19): `previous_key_hash` (SHA-256
 * hex of the value a regenerate kept valid, never the value), `previous_start` (its
 * display prefix) and `previous_expires_at` (when it stops; all three null when there is
 * no old value); `last_used_ip` and `last_used_user_agent`, written with `last_used_at`.
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("api_keys")
    .addColumn("previous_key_hash", "text")
    .addColumn("previous_start", "text")
    .addColumn("previous_expires_at", "timestamptz")
    .addColumn("last_used_ip", "text")
    .addColumn("last_used_user_agent", "text")
    .execute();
  // Verification looks old values up by hash; the sweep finds ended overlaps by time.
  await db.schema
    .createIndex("api_keys_previous_key_hash_key")
    .unique()
    .on("api_keys")
    .column("previous_key_hash")
    .where(sql.ref("previous_key_hash"), "is not", null)
    .execute();
  await db.schema
    .createIndex("api_keys_previous_expires_at_idx")
    .on("api_keys")
    .column("previous_expires_at")
    .where(sql.ref("previous_expires_at"), "is not", null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("api_keys_previous_expires_at_idx").execute();
  await db.schema.dropIndex("api_keys_previous_key_hash_key").execute();
  await db.schema
    .alterTable("api_keys")
    .dropColumn("last_used_user_agent")
    .dropColumn("last_used_ip")
    .dropColumn("previous_expires_at")
    .dropColumn("previous_start")
    .dropColumn("previous_key_hash")
    .execute();
}
