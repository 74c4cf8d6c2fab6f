/**
 * Test principals created directly in the database: human users, team accounts,
 * memberships, and API keys minted with the production format and store functions
 * (a key made here authenticates exactly like one made through the RPC).
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { apiKeyStart, generateApiKey, hashApiKey } from "../../packages/server/src/auth/api-keys/format.js";
import { insertApiKey, insertMachineUser } from "../../packages/server/src/store/api-keys.js";
import type { Database, RoleName } from "../../packages/server/src/store/schema.js";

/** Creates a human user (no password) and returns its id. */
export async function createHumanUser(db: Kysely<Database>, opts: { name?: string; email?: string; instanceAdmin?: boolean } = {}): Promise<string> {
  const tag = randomBytes(4).toString("hex");
  const email = opts.email ?? `user-${tag}@example.test`;
  const row = await db
    .insertInto("users")
    .values({
      kind: "human",
      name: opts.name ?? `user ${tag}`,
      email,
      email_normalized: email.toLowerCase(),
      is_instance_admin: opts.instanceAdmin ?? false,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Creates a team account and returns its id. */
export async function createTeamAccount(db: Kysely<Database>, name = `team ${randomBytes(4).toString("hex")}`): Promise<string> {
  const row = await db.insertInto("accounts").values({ kind: "team", name }).returning("id").executeTakeFirstOrThrow();
  return row.id;
}

/** Makes the user a member of the account with the role. */
export async function addMember(db: Kysely<Database>, accountId: string, userId: string, role: RoleName): Promise<void> {
  await db
    .insertInto("memberships")
    .values({ account_id: accountId, user_id: userId, role })
    .onConflict((oc) => oc.columns(["account_id", "user_id"]).doUpdateSet({ role }))
    .execute();
}

/** A team account with one human user per role, plus a human who belongs to another account only. */
export interface TeamFixture {
  accountId: string;
  adminId: string;
  memberId: string;
  viewerId: string;
  outsiderId: string;
  otherAccountId: string;
}

/** Creates a TeamFixture. */
export async function createTeam(db: Kysely<Database>): Promise<TeamFixture> {
  const accountId = await createTeamAccount(db);
  const otherAccountId = await createTeamAccount(db);
  const [adminId, memberId, viewerId, outsiderId] = await Promise.all([
    createHumanUser(db, { name: "admin" }),
    createHumanUser(db, { name: "member" }),
    createHumanUser(db, { name: "viewer" }),
    createHumanUser(db, { name: "outsider" }),
  ]);
  await addMember(db, accountId, adminId, "admin");
  await addMember(db, accountId, memberId, "member");
  await addMember(db, accountId, viewerId, "viewer");
  await addMember(db, otherAccountId, outsiderId, "admin");
  return { accountId, adminId, memberId, viewerId, outsiderId, otherAccountId };
}

/** An API key minted directly in the database. */
export interface MintedApiKey {
  id: string;
  userId: string;
  accountId: string;
  /** The key's value (`tsk_...`). */
  key: string;
  expiresAt: Date;
}

/** Mints an API key (and its machine user) for the account, as CreateAccountApiKey would. */
export async function mintApiKey(
  db: Kysely<Database>,
  accountId: string,
  opts: { name?: string; expiresAt?: Date; createdById?: string | null } = {},
): Promise<MintedApiKey> {
  const key = generateApiKey();
  const name = opts.name ?? `key ${randomBytes(4).toString("hex")}`;
  const expiresAt = opts.expiresAt ?? new Date(Date.now() + 30 * 86_400_000);
  const row = await db.transaction().execute(async (trx) => {
    const userId = await insertMachineUser(trx, `api key: ${name}`);
    return insertApiKey(trx, {
      account_id: accountId,
      name,
      key_hash: hashApiKey(key),
      start: apiKeyStart(key),
      user_id: userId,
      created_by_id: opts.createdById ?? null,
      expires_at: expiresAt,
      now: new Date(),
    });
  });
  return { id: row.id, userId: row.user_id, accountId, key, expiresAt };
}
