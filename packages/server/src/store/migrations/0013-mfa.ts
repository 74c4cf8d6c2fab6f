/**
 * The second factor (issue 18): TOTP secrets (AES-256-GCM ciphertext under a key held
 * outside the database, never plaintext), single-use recovery codes (HMAC-SHA-256 only),
 * MFA challenges (a sign-in waiting for its second factor: SHA-256 of the challenge,
 * 5 minutes, 5 tries, single use), and how each session was signed in (`amr`, RFC 8176
 * values separated by spaces, and the assurance level, NIST SP 800-63B AAL).
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("user_totp")
    .addColumn("user_id", "uuid", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
    .addColumn("secret_ciphertext", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // Unset while enrolment waits for ConfirmTotpEnrollment (until pending_expires_at).
    .addColumn("confirmed_at", "timestamptz")
    .addColumn("pending_expires_at", "timestamptz")
    // The newest 30-second step a code was accepted for: codes of it and earlier steps are refused (no replay).
    .addColumn("last_used_step", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable("mfa_recovery_codes")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("code_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("mfa_recovery_codes_user_hash").on("mfa_recovery_codes").columns(["user_id", "code_hash"]).unique().execute();
  await db.schema
    .createTable("mfa_challenges")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("challenge_hash", "text", (c) => c.notNull().unique())
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    // How the first factor was passed (`pwd`, `fed`), and with which provider.
    .addColumn("amr", "text", (c) => c.notNull())
    .addColumn("provider_id", "text")
    .addColumn("client_ip", "text", (c) => c.notNull())
    .addColumn("user_agent", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("mfa_challenges_user_created").on("mfa_challenges").columns(["user_id", "created_at"]).execute();
  await db.schema.createIndex("mfa_challenges_expires_at").on("mfa_challenges").column("expires_at").execute();
  // Sessions from before this migration: how they were signed in is unknown (empty), level 1.
  await db.schema
    .alterTable("refresh_families")
    .addColumn("amr", "text", (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("refresh_families")
    .addColumn("assurance_level", "smallint", (c) => c.notNull().defaultTo(1))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("refresh_families").dropColumn("assurance_level").execute();
  await db.schema.alterTable("refresh_families").dropColumn("amr").execute();
  await db.schema.dropTable("mfa_challenges").execute();
  await db.schema.dropTable("mfa_recovery_codes").execute();
  await db.schema.dropTable("user_totp").execute();
}
