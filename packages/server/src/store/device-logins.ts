/**
 * Device logins (RFC 8628): rows keyed by the SHA-256 of the device code and of the
 * user code. Every state change is one conditional UPDATE, so of two concurrent
 * callers exactly one wins (one approval, one claim of the tokens). Returns rows or
 * undefined, never ConnectErrors; the caller owns the clock.
 */
import type { Kysely } from "kysely";
import type { Database, DeviceLoginRow } from "./schema.js";

export interface NewDeviceLogin {
  deviceCodeHash: string;
  userCodeHash: string;
  clientName: string;
  clientIp: string;
  userAgent: string;
  intervalSeconds: number;
  createdAt: Date;
  expiresAt: Date;
}

/** Stores a new pending login; undefined when its user code (or device code) hash is taken. */
export async function insertDeviceLogin(db: Kysely<Database>, d: NewDeviceLogin): Promise<DeviceLoginRow | undefined> {
  return db
    .insertInto("device_logins")
    .values({
      device_code_hash: d.deviceCodeHash,
      user_code_hash: d.userCodeHash,
      client_name: d.clientName,
      client_ip: d.clientIp,
      user_agent: d.userAgent,
      status: "pending",
      interval_seconds: d.intervalSeconds,
      created_at: d.createdAt,
      expires_at: d.expiresAt,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The login with this device code hash. */
export async function findDeviceLoginByDeviceCode(db: Kysely<Database>, deviceCodeHash: string): Promise<DeviceLoginRow | undefined> {
  return db.selectFrom("device_logins").selectAll().where("device_code_hash", "=", deviceCodeHash).executeTakeFirst();
}

/** The pending, unexpired login with this user code hash. */
export async function findPendingDeviceLogin(db: Kysely<Database>, userCodeHash: string, now: Date): Promise<DeviceLoginRow | undefined> {
  return db
    .selectFrom("device_logins")
    .selectAll()
    .where("user_code_hash", "=", userCodeHash)
    .where("status", "=", "pending")
    .where("expires_at", ">", now)
    .executeTakeFirst();
}

/**
 * Records a poll that respects the interval: sets `last_polled_at` when the previous
 * poll was at or before `notAfter` and the interval is still `interval`. False when
 * another poll came too soon (or won a race): the caller answers slow_down.
 */
export async function recordPacedPoll(db: Kysely<Database>, id: string, interval: number, notAfter: Date, now: Date): Promise<boolean> {
  const row = await db
    .updateTable("device_logins")
    .set({ last_polled_at: now })
    .where("id", "=", id)
    .where("interval_seconds", "=", interval)
    .where((eb) => eb.or([eb("last_polled_at", "is", null), eb("last_polled_at", "<=", notAfter)]))
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Raises the interval by `bySeconds` (slow_down) and records the poll; returns the new interval. */
export async function slowDownDeviceLogin(db: Kysely<Database>, id: string, bySeconds: number, now: Date): Promise<number | undefined> {
  const row = await db
    .updateTable("device_logins")
    .set((eb) => ({ interval_seconds: eb("interval_seconds", "+", bySeconds), last_polled_at: now }))
    .where("id", "=", id)
    .returning("interval_seconds")
    .executeTakeFirst();
  return row?.interval_seconds;
}

/**
 * Approves or denies the pending, unexpired login with this user code hash, as `userId`.
 * Undefined when there is none (unknown, expired, already decided, or a concurrent
 * decision won).
 */
export async function decideDeviceLogin(
  db: Kysely<Database>,
  userCodeHash: string,
  decision: "approved" | "denied",
  userId: string,
  now: Date,
): Promise<DeviceLoginRow | undefined> {
  return db
    .updateTable("device_logins")
    .set({ status: decision, user_id: userId, decided_at: now })
    .where("user_code_hash", "=", userCodeHash)
    .where("status", "=", "pending")
    .where("expires_at", ">", now)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Claims the tokens of an approved, unexpired login: marks it consumed and returns the
 * approving user's id. Of concurrent claims exactly one gets it; the others undefined.
 */
export async function claimApprovedDeviceLogin(db: Kysely<Database>, id: string, now: Date): Promise<string | undefined> {
  const row = await db
    .updateTable("device_logins")
    .set({ status: "consumed" })
    .where("id", "=", id)
    .where("status", "=", "approved")
    .where("expires_at", ">", now)
    .returning("user_id")
    .executeTakeFirst();
  return row?.user_id ?? undefined;
}

/** Deletes at most `limit` logins that expired before `before`; returns how many. */
export async function deleteExpiredDeviceLogins(db: Kysely<Database>, before: Date, limit: number): Promise<number> {
  const r = await db
    .deleteFrom("device_logins")
    .where("id", "in", (eb) => eb.selectFrom("device_logins").select("id").where("expires_at", "<", before).limit(limit))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
