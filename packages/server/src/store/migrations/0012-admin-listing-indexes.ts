/**
 * Indexes for the instance admin's listings (AdminService, issue 19): users and API
 * keys are paged newest first by `(created_at, id)` (keyset paging), and keys are
 * filtered by their creator. Frozen in time; uses `Kysely<any>` on purpose.
 */
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("users_created_at_id").on("users").columns(["created_at", "id"]).execute();
  await db.schema.createIndex("api_keys_created_at_id").on("api_keys").columns(["created_at", "id"]).execute();
  await db.schema.createIndex("api_keys_created_by_id").on("api_keys").column("created_by_id").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("api_keys_created_by_id").execute();
  await db.schema.dropIndex("api_keys_created_at_id").execute();
  await db.schema.dropIndex("users_created_at_id").execute();
}
