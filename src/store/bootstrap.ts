/**
 * Rows every deployment of a mode needs, created idempotently at startup.
 */
import { sql, type Kysely } from "kysely";
import { ANONYMOUS_USER_ID, DEFAULT_ACCOUNT_ID } from "../auth/principal.js";
import type { Database } from "./schema.js";

/** AUTH_MODE=none: the anonymous user, instance admin and admin of the default (team) account. */
export async function ensureAnonymous(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("users")
      .values({ id: ANONYMOUS_USER_ID, kind: "human", name: "anonymous", is_instance_admin: true })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    await trx
      .insertInto("accounts")
      .values({ id: DEFAULT_ACCOUNT_ID, kind: "team", name: "default" })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
    await trx
      .insertInto("memberships")
      .values({ account_id: DEFAULT_ACCOUNT_ID, user_id: ANONYMOUS_USER_ID, role: "admin" })
      .onConflict((oc) => oc.columns(["account_id", "user_id"]).doUpdateSet({ role: "admin", updated_at: sql`now()` }))
      .execute();
  });
}
