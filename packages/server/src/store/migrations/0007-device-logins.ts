/**
 * Device logins (RFC 8628, issue 17): a program without a browser starts a login, a
 * signed-in person approves it in the console, the program's next poll gets tokens
 * once. Only hashes of the codes are stored: SHA-256 of the device code (256 random
 * bits) and of the normalized user code. Rows are deleted an hour after they expire.
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("device_logins")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("device_code_hash", "text", (c) => c.notNull().unique())
    .addColumn("user_code_hash", "text", (c) => c.notNull().unique())
    .addColumn("client_name", "text", (c) => c.notNull())
    .addColumn("client_ip", "text", (c) => c.notNull())
    .addColumn("user_agent", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('pending', 'approved', 'denied', 'consumed')`))
    .addColumn("user_id", "uuid", (c) => c.references("users.id").onDelete("cascade"))
    .addColumn("interval_seconds", "integer", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_polled_at", "timestamptz")
    .addColumn("decided_at", "timestamptz")
    .execute();
  await db.schema.createIndex("device_logins_expires_at").on("device_logins").column("expires_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("device_logins").execute();
}
