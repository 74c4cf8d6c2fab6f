/**
 * The revocation log (issue 16): SQL for `revocation_events`, its pruning watermark and
 * `revocation_participants`. Writers serialise on one transaction-scoped advisory lock
 * taken before the sequence number is drawn, so sequence order is commit order: a reader
 * that has seen sequence N has seen every committed event below N (no event can commit
 * later with a smaller number). Returns rows or numbers, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import type { Database, RevocationEventRow, RevocationKind, RevocationParticipantRow } from "./schema.js";

/** The advisory lock key of the revocation log ("tessera revocation" in ASCII, truncated to int8). */
const LOG_LOCK_KEY = 0x7465737365726176n;

/** One revocation to record. */
export interface NewRevocation {
  kind: RevocationKind;
  target: string;
}

/**
 * Takes the log's write lock for the rest of `trx` (must be a transaction). Taken late,
 * right before drawing sequence numbers, after the rows being revoked are locked: every
 * writer locks rows first and the log second, so writers cannot deadlock.
 */
export async function lockRevocationLog(trx: Kysely<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${LOG_LOCK_KEY.toString()}::bigint)`.execute(trx);
}

/** Runs `fn` in `db`'s transaction when it is one, else in a new one: a revocation and its record commit together. */
export async function inRevocationTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

/** Records revocations inside `trx` (a transaction), taking the log's lock; returns the last sequence, 0 for none. */
export async function insertRevocations(trx: Kysely<Database>, events: readonly NewRevocation[]): Promise<number> {
  if (events.length === 0) return 0;
  await lockRevocationLog(trx);
  const rows = await trx
    .insertInto("revocation_events")
    .values(events.map((e) => ({ kind: e.kind, target: e.target })))
    .returning("sequence")
    .execute();
  return Math.max(...rows.map((r) => Number(r.sequence)));
}

/** Records revocations in their own transaction (or `db`'s); returns the last sequence. */
export function recordRevocations(db: Kysely<Database>, events: readonly NewRevocation[]): Promise<number> {
  if (events.length === 0) return Promise.resolve(0);
  return inRevocationTransaction(db, (trx) => insertRevocations(trx, events));
}

/** Events after `after`, oldest first, at most `limit`. */
export async function readRevocations(db: Kysely<Database>, after: number, limit: number): Promise<RevocationEventRow[]> {
  const rows = await db.selectFrom("revocation_events").selectAll().where("sequence", ">", after).orderBy("sequence").limit(limit).execute();
  return rows.map((r) => ({ ...r, sequence: Number(r.sequence) }));
}

/** The newest sequence recorded (0 for none) and the newest one pruning deleted. */
export async function revocationHead(db: Kysely<Database>): Promise<{ head: number; prunedThrough: number }> {
  const row = await db
    .selectFrom("revocation_log_state")
    .select(["pruned_through", (eb) => eb.selectFrom("revocation_events").select(sql<string | number | null>`max(sequence)`.as("m")).as("max_sequence")])
    .executeTakeFirst();
  const prunedThrough = Number(row?.pruned_through ?? 0);
  return { head: Math.max(prunedThrough, Number(row?.max_sequence ?? 0)), prunedThrough };
}

/** Deletes events created before `before`, remembering the newest deleted; returns how many. */
export function pruneRevocations(db: Kysely<Database>, before: Date): Promise<number> {
  return inRevocationTransaction(db, async (trx) => {
    await lockRevocationLog(trx);
    const rows = await trx.deleteFrom("revocation_events").where("created_at", "<", before).returning("sequence").execute();
    if (rows.length === 0) return 0;
    const newest = Math.max(...rows.map((r) => Number(r.sequence)));
    await trx
      .updateTable("revocation_log_state")
      .set({ pruned_through: sql`greatest(pruned_through, ${newest})` })
      .execute();
    return rows.length;
  });
}

/** Records that a participant is alive and has applied the log up to `applied` (never moving it backwards). */
export async function reportParticipant(
  db: Kysely<Database>,
  p: { id: string; kind: "instance" | "subscriber"; name: string; applied: number; now: Date },
): Promise<void> {
  await db
    .insertInto("revocation_participants")
    .values({ id: p.id, kind: p.kind, name: p.name, applied_sequence: p.applied, last_seen_at: p.now })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet({
        applied_sequence: sql`greatest(revocation_participants.applied_sequence, excluded.applied_sequence)`,
        last_seen_at: sql`greatest(revocation_participants.last_seen_at, excluded.last_seen_at)`,
      }),
    )
    .execute();
}

/** Moves a subscriber's applied sequence forward; false when no such subscriber. */
export async function ackSubscriber(db: Kysely<Database>, id: string, applied: number, now: Date): Promise<boolean> {
  const res = await db
    .updateTable("revocation_participants")
    .set({ applied_sequence: sql`greatest(applied_sequence, ${applied})`, last_seen_at: now })
    .where("id", "=", id)
    .where("kind", "=", "subscriber")
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Participants seen since `since`, instances first; at most `limit`. */
export async function listLiveParticipants(db: Kysely<Database>, since: Date, limit: number): Promise<RevocationParticipantRow[]> {
  const rows = await db
    .selectFrom("revocation_participants")
    .selectAll()
    .where("last_seen_at", ">=", since)
    .orderBy("kind")
    .orderBy("name")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, applied_sequence: Number(r.applied_sequence) }));
}

/** Forgets participants not seen since `before`. */
export async function deleteStaleParticipants(db: Kysely<Database>, before: Date): Promise<number> {
  const res = await db.deleteFrom("revocation_participants").where("last_seen_at", "<", before).executeTakeFirst();
  return Number(res.numDeletedRows);
}
