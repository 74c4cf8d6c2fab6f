/**
 * The revocation log (issue 16): every revocation (an API key deleted or regenerated, a
 * user disabled, a session ended, a signing key withdrawn) is one row with a sequence
 * number, written in the transaction that revokes, kept 24 hours. Instances and
 * subscribers apply the rows after the last sequence they applied, so a missed
 * notification is healed by the next one. `revocation_log_state.pruned_through` is the
 * newest sequence deleted by pruning: a cursor older than it may have missed events.
 * `revocation_participants` is where instances and subscribers report how far they
 * applied the log (GetRevocationStatus). Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("revocation_events")
    .addColumn("sequence", "bigserial", (c) => c.primaryKey())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('api_key', 'user', 'session', 'signing_key', 'flush_all')`))
    .addColumn("target", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("revocation_events_created_at").on("revocation_events").column("created_at").execute();
  await db.schema
    .createTable("revocation_log_state")
    .addColumn("singleton", "boolean", (c) => c.primaryKey().defaultTo(true).check(sql`singleton`))
    .addColumn("pruned_through", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.insertInto("revocation_log_state").values({ singleton: true, pruned_through: 0 }).execute();
  await db.schema
    .createTable("revocation_participants")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('instance', 'subscriber')`))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("applied_sequence", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("last_seen_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("revocation_participants_last_seen").on("revocation_participants").column("last_seen_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("revocation_participants").execute();
  await db.schema.dropTable("revocation_log_state").execute();
  await db.schema.dropTable("revocation_events").execute();
}
