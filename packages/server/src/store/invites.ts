/**
 * Team account invites repository. Tokens are never stored, only their SHA-256.
 * Returns rows or undefined, never ConnectErrors.
 */
import type { Kysely } from "kysely";
import type { Database, InviteRow, RoleName } from "./schema.js";

export interface NewInvite {
  accountId: string;
  email: string;
  emailNormalized: string;
  role: RoleName;
  tokenHash: string;
  createdById: string | null;
  expiresAt: Date;
}

/** Expires every open invite of the account for the email (a new invite replaces them). */
export async function expireOpenInvites(db: Kysely<Database>, accountId: string, emailNormalized: string, now: Date): Promise<number> {
  const r = await db
    .updateTable("invites")
    .set({ expires_at: now })
    .where("account_id", "=", accountId)
    .where("email_normalized", "=", emailNormalized)
    .where("accepted_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Inserts an invite. */
export async function insertInvite(db: Kysely<Database>, invite: NewInvite): Promise<InviteRow> {
  return db
    .insertInto("invites")
    .values({
      account_id: invite.accountId,
      email: invite.email,
      email_normalized: invite.emailNormalized,
      role: invite.role,
      token_hash: invite.tokenHash,
      created_by_id: invite.createdById,
      expires_at: invite.expiresAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The account's open invites (not accepted, not expired), newest first. */
export async function listOpenInvites(db: Kysely<Database>, accountId: string, now: Date): Promise<InviteRow[]> {
  return db
    .selectFrom("invites")
    .selectAll()
    .where("account_id", "=", accountId)
    .where("accepted_at", "is", null)
    .where("expires_at", ">", now)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
}

/** An invite by id. */
export async function findInviteById(db: Kysely<Database>, id: string): Promise<InviteRow | undefined> {
  return db.selectFrom("invites").selectAll().where("id", "=", id).executeTakeFirst();
}

/** An invite by the SHA-256 (hex) of its token. */
export async function findInviteByTokenHash(db: Kysely<Database>, tokenHash: string): Promise<InviteRow | undefined> {
  return db.selectFrom("invites").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
}

/** Deletes an invite of the account that was not accepted; returns whether one was deleted. */
export async function deleteOpenInvite(db: Kysely<Database>, id: string, accountId: string): Promise<boolean> {
  const r = await db.deleteFrom("invites").where("id", "=", id).where("account_id", "=", accountId).where("accepted_at", "is", null).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/**
 * Marks an open, unexpired invite accepted by the user. Atomic: of concurrent callers
 * exactly one gets the row back; the others get undefined.
 */
export async function markInviteAccepted(db: Kysely<Database>, id: string, userId: string, now: Date): Promise<InviteRow | undefined> {
  return db
    .updateTable("invites")
    .set({ accepted_at: now, accepted_by_id: userId })
    .where("id", "=", id)
    .where("accepted_at", "is", null)
    .where("expires_at", ">", now)
    .returningAll()
    .executeTakeFirst();
}
