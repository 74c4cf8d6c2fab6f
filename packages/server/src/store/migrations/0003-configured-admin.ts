/**
 * Remembers which user AUTH_MODE=admin configured (issue 13, finding 2), so a restart
 * with another AUTH_ADMIN_EMAIL finds the previous admin, and when the admin's
 * credentials last changed, so access tokens issued before are refused.
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("configured_admin")
    // One row at most: the primary key is a boolean that can only be true.
    .addColumn("singleton", "boolean", (c) => c.primaryKey().defaultTo(true).check(sql`singleton`))
    .addColumn("user_id", "uuid", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("credentials_changed_at", "timestamptz")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("configured_admin").ifExists().execute();
}
