/**
 * Email verification and password reset (issue 18). `users.email_verified_at`: when the
 * user proved the address by a link (password users; existing users start unverified
 * and can ask for a link with ResendVerification). `email_tokens`: the links' tokens,
 * SHA-256 at rest, single-use (`used_at`), each for one purpose and one address.
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").addColumn("email_verified_at", "timestamptz").execute();
  await db.schema
    .createTable("email_tokens")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("purpose", "text", (c) => c.notNull().check(sql`purpose in ('verify_email', 'password_reset')`))
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("email_normalized", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("email_tokens_user_purpose").on("email_tokens").columns(["user_id", "purpose"]).execute();
  await db.schema.createIndex("email_tokens_expires_at").on("email_tokens").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("email_tokens").execute();
  await db.schema.alterTable("users").dropColumn("email_verified_at").execute();
}
