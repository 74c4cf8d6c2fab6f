/**
 * Users repository: all SQL about users. Returns rows or undefined, never ConnectErrors.
 */
import { sql, type Kysely } from "kysely";
import type { Database, IdentityRow, UserRow } from "./schema.js";

/** Whether the user holds the instance-admin flag and is not disabled. */
export async function isInstanceAdmin(db: Kysely<Database>, userId: string): Promise<boolean> {
  const row = await db.selectFrom("users").select(["is_instance_admin", "disabled_at"]).where("id", "=", userId).executeTakeFirst();
  return row?.is_instance_admin === true && row.disabled_at === null;
}

/** True when the API key's creator is an enabled instance admin now. */
export async function isApiKeyMadeByInstanceAdmin(db: Kysely<Database>, apiKeyId: string): Promise<boolean> {
  const row = await db
    .selectFrom("api_keys")
    .innerJoin("users", "users.id", "api_keys.created_by_id")
    .select(["users.is_instance_admin", "users.disabled_at"])
    .where("api_keys.id", "=", apiKeyId)
    .executeTakeFirst();
  return row?.is_instance_admin === true && row.disabled_at === null;
}

/** A user by id. */
export async function findUserById(db: Kysely<Database>, userId: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", userId).executeTakeFirst();
}

/** A password user by normalized email (password users' emails are unique). */
export async function findPasswordUserByEmail(db: Kysely<Database>, emailNormalized: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("email_normalized", "=", emailNormalized).where("password_hash", "is not", null).executeTakeFirst();
}

/**
 * Creates a human password user. Returns undefined when a password user with this
 * normalized email already exists (unique violation), the row otherwise.
 */
export async function insertPasswordUser(
  db: Kysely<Database>,
  u: { email: string; emailNormalized: string; name: string | null; passwordHash: string; isInstanceAdmin?: boolean },
): Promise<UserRow | undefined> {
  try {
    return await db
      .insertInto("users")
      .values({
        kind: "human",
        email: u.email,
        email_normalized: u.emailNormalized,
        name: u.name,
        password_hash: u.passwordHash,
        is_instance_admin: u.isInstanceAdmin ?? false,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (e) {
    if ((e as { code?: unknown }).code === "23505") return undefined;
    throw e;
  }
}

/** Whether the user exists and is not disabled (for token verification). */
export async function findUserStatus(db: Kysely<Database>, userId: string): Promise<{ disabled: boolean } | undefined> {
  const row = await db.selectFrom("users").select("disabled_at").where("id", "=", userId).executeTakeFirst();
  return row ? { disabled: row.disabled_at !== null } : undefined;
}

/**
 * Deletes the API keys made by `creatorId` and their machine users (moving from
 * AUTH_MODE=none to admin/full revokes the anonymous user's keys). Returns how many.
 */
export async function deleteApiKeysCreatedBy(db: Kysely<Database>, creatorId: string): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const keys = await trx.selectFrom("api_keys").select(["id", "user_id"]).where("created_by_id", "=", creatorId).execute();
    if (keys.length === 0) return 0;
    await trx
      .deleteFrom("api_keys")
      .where(
        "id",
        "in",
        keys.map((k) => k.id),
      )
      .execute();
    await trx
      .deleteFrom("users")
      .where("kind", "=", "machine")
      .where(
        "id",
        "in",
        keys.map((k) => k.user_id),
      )
      .execute();
    return keys.length;
  });
}

/** The identity of an OpenID provider user by issuer and subject. */
export async function findIdentity(db: Kysely<Database>, issuer: string, subject: string): Promise<IdentityRow | undefined> {
  return db.selectFrom("identities").selectAll().where("issuer", "=", issuer).where("subject", "=", subject).executeTakeFirst();
}

/** The identities of the given users (for member listings), oldest first. */
export async function findIdentitiesByUserIds(db: Kysely<Database>, userIds: readonly string[]): Promise<IdentityRow[]> {
  if (userIds.length === 0) return [];
  return db
    .selectFrom("identities")
    .selectAll()
    .where("user_id", "in", [...userIds])
    .orderBy("created_at")
    .execute();
}

/** The profile an identity's latest claims carry. */
export interface IdentityProfile {
  email: string | null;
  /** The provider said `email_verified: true` for `email`. */
  emailVerified: boolean;
  name: string | null;
  image: string | null;
}

/**
 * Stores an identity's latest profile claims (with whether the provider verified the
 * email, which invites require), and copies them to its user when the user has no
 * password (a provider-only user).
 */
export async function updateIdentityProfile(
  db: Kysely<Database>,
  identity: Pick<IdentityRow, "id" | "user_id">,
  profile: IdentityProfile,
  emailNormalized: string | null,
): Promise<void> {
  await db
    .updateTable("identities")
    .set({ email: profile.email, email_verified: profile.emailVerified, name: profile.name, image: profile.image, updated_at: sql`now()` })
    .where("id", "=", identity.id)
    .execute();
  await db
    .updateTable("users")
    .set({ email: profile.email, email_normalized: emailNormalized, name: profile.name, image: profile.image, updated_at: sql`now()` })
    .where("id", "=", identity.user_id)
    .where("password_hash", "is", null)
    .execute();
}

/** Replaces a password hash if it is still `expected` (an upgrade never overwrites a concurrent change). */
export async function updatePasswordHash(db: Kysely<Database>, userId: string, expected: string, passwordHash: string): Promise<void> {
  await db
    .updateTable("users")
    .set({ password_hash: passwordHash, updated_at: new Date() })
    .where("id", "=", userId)
    .where("password_hash", "=", expected)
    .execute();
}
