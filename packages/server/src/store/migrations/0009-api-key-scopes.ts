/**
 * API-key scopes and limits (issue 19), fixed at creation: `scopes`, the procedures a key
 * may call (an empty array: every procedure its role allows, which every existing key
 * becomes); `rate_limits`, a JSON array of `{limit, window_seconds}` (empty: none);
 * `budget`, JSON `{uses, refill_amount, refill_interval_seconds}` or null. The counters
 * live in Redis or memory, not here. Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("api_keys")
    .addColumn("scopes", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn("rate_limits", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("budget", "jsonb")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("api_keys").dropColumn("budget").dropColumn("rate_limits").dropColumn("scopes").execute();
}
