/**
 * Rows every deployment of a mode needs, created idempotently at startup.
 */
import { sql, type Kysely } from "kysely";
import { ANONYMOUS_USER_ID, DEFAULT_ACCOUNT_ID } from "./ids.js";
import type { Database } from "./schema.js";

/**
 * AUTH_MODE=none: the anonymous user, instance admin and admin of the default (team)
 * account. A user left behind by an earlier move to admin or full mode is made
 * instance admin and enabled again.
 */
export async function ensureAnonymous(db: Kysely<Database>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("users")
      .values({ id: ANONYMOUS_USER_ID, kind: "human", name: "anonymous", is_instance_admin: true })
      .onConflict((oc) => oc.column("id").doUpdateSet({ is_instance_admin: true, disabled_at: null, updated_at: sql`now()` }))
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

/**
 * AUTH_MODE=admin and full (issue 13, finding 13): the anonymous user of an earlier
 * AUTH_MODE=none loses the instance-admin flag and is disabled, so nothing issued for
 * it is accepted. Returns whether it had still been instance admin or enabled.
 */
export async function retireAnonymous(db: Kysely<Database>, now: Date): Promise<boolean> {
  const res = await db
    .updateTable("users")
    .set({ is_instance_admin: false, disabled_at: now, updated_at: now })
    .where("id", "=", ANONYMOUS_USER_ID)
    .where((eb) => eb.or([eb("is_instance_admin", "=", true), eb("disabled_at", "is", null)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
