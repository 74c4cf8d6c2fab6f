/**
 * Audit events repository.
 */
import { sql, type Kysely } from "kysely";
import type { AuditEventRow, Database, NewAuditEvent } from "./schema.js";

/** Inserts a batch of audit events in one statement. */
export async function insertAuditEvents(db: Kysely<Database>, events: NewAuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.insertInto("audit_events").values(events).execute();
}

/** An audit event with its exact (microsecond) time as text, for cursors. */
export interface AuditEventPageRow extends AuditEventRow {
  /** `created_at` in UTC with microseconds, e.g. `2026-01-02T03:04:05.123456Z`. */
  cursor_time: string;
}

/**
 * A page of an account's events, newest first, strictly after the cursor. The cursor's
 * time is the exact `cursor_time` text of the last row of the previous page, so rows
 * written with microsecond timestamps are neither skipped nor repeated.
 */
export async function listAccountAuditEventsPage(
  db: Kysely<Database>,
  accountId: string,
  limit: number,
  after: { time: string; id: string } | undefined,
): Promise<AuditEventPageRow[]> {
  let q = db
    .selectFrom("audit_events")
    .selectAll()
    .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("cursor_time"))
    .where("account_id", "=", accountId);
  if (after) {
    const t = sql<Date>`${after.time}::timestamptz`;
    q = q.where((eb) => eb.or([eb("created_at", "<", t), eb.and([eb("created_at", "=", t), eb("id", "<", after.id)])]));
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}
