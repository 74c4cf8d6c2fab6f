/**
 * The second factor's SQL: TOTP secrets (ciphertext only), recovery codes (keyed hashes
 * only) and MFA challenges. Every "once" is one conditional UPDATE: a step is accepted
 * only if newer than the last (`last_used_step < step`), a recovery code only while
 * `used_at IS NULL`, a challenge only while unused, unexpired and under its tries.
 * Returns rows, never ConnectErrors.
 */
import type { Kysely } from "kysely";
import type { Database, MfaChallengeRow, UserTotpRow } from "./schema.js";

/** The user's TOTP row (pending or confirmed). */
export async function findTotp(db: Kysely<Database>, userId: string): Promise<UserTotpRow | undefined> {
  return db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
}

/** True when the user has confirmed TOTP. */
export async function hasConfirmedTotp(db: Kysely<Database>, userId: string): Promise<boolean> {
  const row = await db.selectFrom("user_totp").select("user_id").where("user_id", "=", userId).where("confirmed_at", "is not", null).executeTakeFirst();
  return row !== undefined;
}

/** Stores a new pending secret, replacing a pending one; undefined when the user has confirmed TOTP. */
export async function upsertPendingTotp(
  db: Kysely<Database>,
  t: { userId: string; ciphertext: string; now: Date; expiresAt: Date },
): Promise<UserTotpRow | undefined> {
  return db
    .insertInto("user_totp")
    .values({ user_id: t.userId, secret_ciphertext: t.ciphertext, created_at: t.now, pending_expires_at: t.expiresAt, last_used_step: 0 })
    .onConflict((oc) =>
      oc
        .column("user_id")
        .doUpdateSet({ secret_ciphertext: t.ciphertext, created_at: t.now, pending_expires_at: t.expiresAt, last_used_step: 0 })
        .where("user_totp.confirmed_at", "is", null),
    )
    .returningAll()
    .executeTakeFirst();
}

/** Turns a pending secret on (once, before it expires), recording the step its code used. */
export async function confirmTotp(db: Kysely<Database>, userId: string, ciphertext: string, step: number, now: Date): Promise<boolean> {
  const res = await db
    .updateTable("user_totp")
    .set({ confirmed_at: now, pending_expires_at: null, last_used_step: step })
    .where("user_id", "=", userId)
    .where("secret_ciphertext", "=", ciphertext)
    .where("confirmed_at", "is", null)
    .where("pending_expires_at", ">", now)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Accepts a step of a confirmed secret once: only when newer than every step accepted before. */
export async function useTotpStep(db: Kysely<Database>, userId: string, step: number): Promise<boolean> {
  const res = await db
    .updateTable("user_totp")
    .set({ last_used_step: step })
    .where("user_id", "=", userId)
    .where("confirmed_at", "is not", null)
    .where("last_used_step", "<", step)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Deletes the user's TOTP secret and recovery codes; true when TOTP was on. */
export async function deleteTotp(db: Kysely<Database>, userId: string): Promise<boolean> {
  await db.deleteFrom("mfa_recovery_codes").where("user_id", "=", userId).execute();
  const res = await db.deleteFrom("user_totp").where("user_id", "=", userId).where("confirmed_at", "is not", null).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** Replaces every recovery code of the user with these hashes. */
export async function replaceRecoveryCodes(db: Kysely<Database>, userId: string, hashes: readonly string[], now: Date): Promise<void> {
  await db.deleteFrom("mfa_recovery_codes").where("user_id", "=", userId).execute();
  await db
    .insertInto("mfa_recovery_codes")
    .values(hashes.map((h) => ({ user_id: userId, code_hash: h, created_at: now })))
    .execute();
}

/** Uses one recovery code of the user (any of its stored forms); false when none is unused. */
export async function useRecoveryCode(db: Kysely<Database>, userId: string, hashes: readonly string[], now: Date): Promise<boolean> {
  if (hashes.length === 0) return false;
  const row = await db
    .updateTable("mfa_recovery_codes")
    .set({ used_at: now })
    .where("user_id", "=", userId)
    .where("code_hash", "in", hashes)
    .where("used_at", "is", null)
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/** How many unused recovery codes the user has. */
export async function countRecoveryCodes(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom("mfa_recovery_codes")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A new challenge. */
export async function insertChallenge(
  db: Kysely<Database>,
  c: { hash: string; userId: string; amr: string; providerId: string | null; clientIp: string; userAgent: string; now: Date; expiresAt: Date },
): Promise<MfaChallengeRow> {
  return db
    .insertInto("mfa_challenges")
    .values({
      challenge_hash: c.hash,
      user_id: c.userId,
      amr: c.amr,
      provider_id: c.providerId,
      client_ip: c.clientIp,
      user_agent: c.userAgent,
      created_at: c.now,
      expires_at: c.expiresAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The user of a live challenge (unused, unexpired, under `maxTries`), or undefined. */
export async function findLiveChallengeUser(db: Kysely<Database>, hash: string, now: Date, maxTries: number): Promise<string | undefined> {
  const row = await db
    .selectFrom("mfa_challenges")
    .select("user_id")
    .where("challenge_hash", "=", hash)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .where("attempts", "<", maxTries)
    .executeTakeFirst();
  return row?.user_id;
}

/**
 * Counts one try of a live challenge (unused, unexpired, under `maxTries`) and returns it
 * with the count; undefined when it is not live. Tries are counted before the code is
 * checked, so concurrent guesses cannot exceed the limit.
 */
export async function countChallengeTry(db: Kysely<Database>, hash: string, now: Date, maxTries: number): Promise<MfaChallengeRow | undefined> {
  return db
    .updateTable("mfa_challenges")
    .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
    .where("challenge_hash", "=", hash)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .where("attempts", "<", maxTries)
    .returningAll()
    .executeTakeFirst();
}

/** Uses a challenge (once): false when another request used it first. */
export async function useChallenge(db: Kysely<Database>, id: string, now: Date): Promise<boolean> {
  const res = await db.updateTable("mfa_challenges").set({ used_at: now }).where("id", "=", id).where("used_at", "is", null).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Deletes challenges that expired before `before`, at most `limit`. */
export async function deleteExpiredChallenges(db: Kysely<Database>, before: Date, limit: number): Promise<number> {
  const res = await db
    .deleteFrom("mfa_challenges")
    .where("id", "in", (eb) => eb.selectFrom("mfa_challenges").select("id").where("expires_at", "<", before).limit(limit))
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
