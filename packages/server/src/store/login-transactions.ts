/**
 * Login transactions of the provider login (GetAuthorizeUrl -> ExchangeCode): state
 * hash, nonce, expected issuer, redirect URI and PKCE challenge, stored server-side and
 * used once. Returns rows or undefined, never ConnectErrors.
 */
import type { Kysely } from "kysely";
import type { Database, LoginTransactionRow } from "./schema.js";

export interface NewLoginTransaction {
  stateHash: string;
  nonce: string;
  providerId: string;
  issuer: string;
  redirectUri: string;
  codeChallenge: string;
  createdAt: Date;
  expiresAt: Date;
  /** The signed-in user a link login is for; null for a sign-in. */
  linkUserId?: string | null;
}

/** Stores a transaction. Returns false when a transaction with the same state hash exists. */
export async function insertLoginTransaction(db: Kysely<Database>, t: NewLoginTransaction): Promise<boolean> {
  const row = await db
    .insertInto("login_transactions")
    .values({
      state_hash: t.stateHash,
      nonce: t.nonce,
      provider_id: t.providerId,
      issuer: t.issuer,
      redirect_uri: t.redirectUri,
      code_challenge: t.codeChallenge,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
      link_user_id: t.linkUserId ?? null,
    })
    .onConflict((oc) => oc.column("state_hash").doNothing())
    .returning("id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Outcome of consuming a transaction. */
export type ConsumeResult = { status: "ok"; row: LoginTransactionRow } | { status: "used"; row: LoginTransactionRow } | { status: "unknown" };

/**
 * Marks the transaction with this state hash used, atomically: of two concurrent
 * calls exactly one gets "ok". Expiry is the caller's check (it owns the clock).
 */
export async function consumeLoginTransaction(db: Kysely<Database>, stateHash: string, now: Date): Promise<ConsumeResult> {
  const row = await db
    .updateTable("login_transactions")
    .set({ used_at: now })
    .where("state_hash", "=", stateHash)
    .where("used_at", "is", null)
    .returningAll()
    .executeTakeFirst();
  if (row) return { status: "ok", row };
  const prior = await db.selectFrom("login_transactions").selectAll().where("state_hash", "=", stateHash).executeTakeFirst();
  return prior ? { status: "used", row: prior } : { status: "unknown" };
}

/** Deletes transactions that expired before `before`. Returns how many. */
export async function deleteExpiredLoginTransactions(db: Kysely<Database>, before: Date): Promise<number> {
  const r = await db.deleteFrom("login_transactions").where("expires_at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
