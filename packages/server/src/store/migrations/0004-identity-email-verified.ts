/**
 * Identities remember whether the provider reported their email as verified
 * (`email_verified: true`), so that invites trust only verified emails (issue 13,
 * finding 9). Existing identities start unverified: their next token, login or SetUser
 * with `email_verified: true` marks them. Frozen in time; uses `Kysely<any>` on purpose.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("identities")
    .addColumn("email_verified", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("identities").dropColumn("email_verified").execute();
}
