/**
 * Several identity providers (issue 17): an identity remembers which configured provider
 * it came through (`provider_id`; null for identities made before, which belong to the
 * provider of their issuer), and a login transaction started by a signed-in user carries
 * that user (`link_user_id`), so the login links the identity to it instead of signing
 * someone in. Frozen in time; uses `Kysely<any>` on purpose.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("identities").addColumn("provider_id", "text").execute();
  await db.schema
    .alterTable("login_transactions")
    .addColumn("link_user_id", "uuid", (c) => c.references("users.id").onDelete("cascade"))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("login_transactions").dropColumn("link_user_id").execute();
  await db.schema.alterTable("identities").dropColumn("provider_id").execute();
}
