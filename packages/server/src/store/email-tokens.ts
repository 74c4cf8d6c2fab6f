/**
 * Email tokens (issue 18): the links of verification and password-reset mail, by their
 * SHA-256 hash. Consuming a token is one conditional UPDATE, so of two concurrent uses
 * exactly one succeeds. Returns rows, booleans or undefined, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import { revokeUserFamilies, type FamiliesRevoked } from "./account-security.js";
import type { Database, EmailTokenPurpose, EmailTokenRow } from "./schema.js";

/**
 * Stores a new token for the user. With `supersede`, every earlier unused token of the
 * same purpose ends now (a password reset: only the newest link works). Ended tokens
 * are deleted by the periodic sweep (`deleteEndedEmailTokens`).
 */
export async function issueEmailToken(
  db: Kysely<Database>,
  t: { userId: string; purpose: EmailTokenPurpose; tokenHash: string; emailNormalized: string; now: Date; expiresAt: Date; supersede: boolean },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (t.supersede) {
      await trx
        .updateTable("email_tokens")
        .set({ used_at: t.now })
        .where("user_id", "=", t.userId)
        .where("purpose", "=", t.purpose)
        .where("used_at", "is", null)
        .execute();
    }
    await trx
      .insertInto("email_tokens")
      .values({
        user_id: t.userId,
        purpose: t.purpose,
        token_hash: t.tokenHash,
        email_normalized: t.emailNormalized,
        created_at: t.now,
        expires_at: t.expiresAt,
      })
      .execute();
  });
}

/**
 * Deletes ended tokens, at most `limit` rows per statement (a subquery on id: PostgreSQL
 * and PGlite alike): expired ones (`expires_at <= now`, through its index) and used ones
 * whose use is older than `usedBefore`. Returns how many rows went.
 */
export async function deleteEndedEmailTokens(db: Kysely<Database>, now: Date, usedBefore: Date, limit: number): Promise<number> {
  const expired = await db
    .deleteFrom("email_tokens")
    .where("id", "in", (eb) => eb.selectFrom("email_tokens").select("id").where("expires_at", "<=", now).limit(limit))
    .executeTakeFirst();
  const used = await db
    .deleteFrom("email_tokens")
    .where("id", "in", (eb) => eb.selectFrom("email_tokens").select("id").where("used_at", "<", usedBefore).limit(limit))
    .executeTakeFirst();
  return Number(expired.numDeletedRows) + Number(used.numDeletedRows);
}

/** Whether a token of this purpose was issued to the user after `since` (resend throttling). */
export async function emailTokenIssuedSince(db: Kysely<Database>, userId: string, purpose: EmailTokenPurpose, since: Date): Promise<boolean> {
  const row = await db
    .selectFrom("email_tokens")
    .select("id")
    .where("user_id", "=", userId)
    .where("purpose", "=", purpose)
    .where("created_at", ">", since)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** A token that could be used now (unused, unexpired, of this purpose), without using it. */
export async function findUsableEmailToken(db: Kysely<Database>, tokenHash: string, purpose: EmailTokenPurpose, now: Date): Promise<EmailTokenRow | undefined> {
  return db
    .selectFrom("email_tokens")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirst();
}

/** Uses a token: the row when it was unused, unexpired and of this purpose (and is used now), else undefined. */
export async function consumeEmailToken(db: Kysely<Database>, tokenHash: string, purpose: EmailTokenPurpose, now: Date): Promise<EmailTokenRow | undefined> {
  return db
    .updateTable("email_tokens")
    .set({ used_at: now })
    .where("token_hash", "=", tokenHash)
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Marks the user's email verified, if the user still has the address the token was sent
 * to and is a password user. Returns whether it did (or it already was).
 */
export async function markEmailVerified(db: Kysely<Database>, userId: string, emailNormalized: string, now: Date): Promise<boolean> {
  const res = await db
    .updateTable("users")
    .set({ email_verified_at: sql`coalesce(email_verified_at, ${now})`, updated_at: now })
    .where("id", "=", userId)
    .where("email_normalized", "=", emailNormalized)
    .where("password_hash", "is not", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** What a password reset did. */
export interface PasswordReset {
  userId: string;
  email: string | null;
  revoked: FamiliesRevoked;
}

/**
 * A password reset in one transaction: uses the token, sets the new hash (only for an
 * enabled password user who still has the address the link went to), ends every other
 * reset token of the user and every session (refresh family, recorded in the revocation
 * log). Undefined when the token is not usable or the user no longer qualifies (then
 * nothing changes).
 */
export async function resetPasswordWithToken(
  db: Kysely<Database>,
  r: { tokenHash: string; passwordHash: string; now: Date; idleTimeoutSeconds: number },
): Promise<PasswordReset | undefined> {
  return db
    .transaction()
    .execute(async (trx) => {
      const token = await consumeEmailToken(trx, r.tokenHash, "password_reset", r.now);
      if (!token) return undefined;
      const user = await trx
        .updateTable("users")
        .set({ password_hash: r.passwordHash, updated_at: r.now })
        .where("id", "=", token.user_id)
        .where("email_normalized", "=", token.email_normalized)
        .where("password_hash", "is not", null)
        .where("disabled_at", "is", null)
        .returning(["id", "email"])
        .executeTakeFirst();
      // Not applicable any more: roll the token's use back with the transaction.
      if (!user) throw new NotApplicable();
      await trx
        .updateTable("email_tokens")
        .set({ used_at: r.now })
        .where("user_id", "=", user.id)
        .where("purpose", "=", "password_reset")
        .where("used_at", "is", null)
        .execute();
      const revoked = await revokeUserFamilies(trx, user.id, r.now, "password_reset", { idleTimeoutSeconds: r.idleTimeoutSeconds });
      return { userId: user.id, email: user.email, revoked };
    })
    .catch((e: unknown) => {
      if (e instanceof NotApplicable) return undefined;
      throw e;
    });
}

class NotApplicable extends Error {}
