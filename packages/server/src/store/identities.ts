/**
 * Identities repository: links between a provider's (issuer, subject) and a Tessera
 * user, their first-time provisioning, explicit linking, listing and unlinking. All SQL about identities lives here.
 * Returns rows or undefined, never ConnectErrors.
 */
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ANONYMOUS_USER_ID } from "./ids.js";
import type { Database, IdentityRow } from "./schema.js";

/** The user an identity belongs to, with the facts the verifier needs. */
export interface IdentityUser {
  userId: string;
  disabled: boolean;
}

/** Profile facts taken from the provider's claims (all optional, already bounded). */
export interface IdentityProfile {
  email: string | null;
  /** The provider said `email_verified: true` for `email` (default false). */
  emailVerified?: boolean;
  name: string | null;
  image: string | null;
}

/** Result of `provisionIdentity`. */
export interface ProvisionResult extends IdentityUser {
  /** True when this call created the user and the identity. */
  created: boolean;
}

/** The user linked to (issuer, subject), or undefined. */
export async function findIdentityUser(db: Kysely<Database>, issuer: string, subject: string): Promise<IdentityUser | undefined> {
  const row = await db
    .selectFrom("identities")
    .innerJoin("users", "users.id", "identities.user_id")
    .select(["identities.user_id", "users.disabled_at"])
    .where("identities.issuer", "=", issuer)
    .where("identities.subject", "=", subject)
    .executeTakeFirst();
  return row ? { userId: row.user_id, disabled: row.disabled_at !== null } : undefined;
}

/** Thrown inside the provisioning transaction to roll back the losing racer's user row. */
class LostRace extends Error {}

function normalizeEmail(email: string | null): string | null {
  return email === null ? null : email.trim().normalize("NFKC").toLowerCase();
}

/**
 * Returns the user linked to (issuer, subject), creating a human user, its personal
 * account and the identity the first time. Exactly one user is created even when many requests race: the user
 * and the identity are inserted in one transaction, the identity with
 * `ON CONFLICT (issuer, subject) DO NOTHING`; a racer that loses rolls its transaction
 * back (no orphan user) and reads the winner's row.
 */
export async function provisionIdentity(
  db: Kysely<Database>,
  issuer: string,
  subject: string,
  profile: IdentityProfile,
  providerId: string | null = null,
): Promise<ProvisionResult> {
  const existing = await findIdentityUser(db, issuer, subject);
  if (existing) return { ...existing, created: false };
  const userId = randomUUID();
  try {
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto("users")
        .values({
          id: userId,
          kind: "human",
          email: profile.email,
          email_normalized: normalizeEmail(profile.email),
          name: profile.name,
          image: profile.image,
        })
        .execute();
      const linked = await insertIdentityUnlessTaken(trx, userId, issuer, subject, profile, providerId).returning("user_id").executeTakeFirst();
      if (!linked) throw new LostRace();
      // Like every human user, the new user owns a personal account.
      const account = await trx
        .insertInto("accounts")
        .values({ kind: "personal", name: "personal", personal_user_id: userId })
        .returning("id")
        .executeTakeFirstOrThrow();
      await trx.insertInto("memberships").values({ account_id: account.id, user_id: userId, role: "admin" }).execute();
    });
    return { userId, disabled: false, created: true };
  } catch (e) {
    if (!(e instanceof LostRace) && (e as { code?: unknown }).code !== "23505") throw e;
  }
  const winner = await findIdentityUser(db, issuer, subject);
  if (!winner) throw new Error("identity vanished during provisioning");
  return { ...winner, created: false };
}

/** How many users and identities exist for (issuer, subject) - for tests and diagnostics. */
export async function countIdentities(db: Kysely<Database>, issuer: string, subject: string): Promise<number> {
  const row = await db
    .selectFrom("identities")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("issuer", "=", issuer)
    .where("subject", "=", subject)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A human user (not the anonymous one) whose normalized email is `emailNormalized`, if any. */
export async function findUserIdByEmail(db: Kysely<Database>, emailNormalized: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("users")
    .select("id")
    .where("email_normalized", "=", emailNormalized)
    .where("kind", "=", "human")
    .where("id", "!=", ANONYMOUS_USER_ID)
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/**
 * Links (issuer, subject) to an existing user. Of concurrent links of one identity,
 * exactly one inserts (the unique (issuer, subject) constraint); the others get false.
 */
export async function linkIdentityToUser(
  db: Kysely<Database>,
  userId: string,
  issuer: string,
  subject: string,
  profile: IdentityProfile,
  providerId: string,
): Promise<boolean> {
  const row = await insertIdentityUnlessTaken(db, userId, issuer, subject, profile, providerId).returning("id").executeTakeFirst();
  return row !== undefined;
}

/** The identities of a user, oldest first. */
export async function listUserIdentities(db: Kysely<Database>, userId: string): Promise<IdentityRow[]> {
  return db.selectFrom("identities").selectAll().where("user_id", "=", userId).orderBy("created_at").orderBy("id").execute();
}

/** Outcome of `unlinkIdentity`. */
export type UnlinkResult = "unlinked" | "not_found" | "last_sign_in";

/**
 * Removes one identity of a user unless it is the user's last way to sign in (no
 * password and no other identity of an issuer in `signInIssuers`). The user row is
 * locked, so two concurrent unlinks of a user's last two identities cannot both succeed.
 */
export async function unlinkIdentity(db: Kysely<Database>, userId: string, identityId: string, signInIssuers: readonly string[]): Promise<UnlinkResult> {
  return db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom("users").select(["password_hash"]).where("id", "=", userId).forUpdate().executeTakeFirst();
    if (!user) return "not_found";
    const identities = await trx.selectFrom("identities").select(["id", "issuer"]).where("user_id", "=", userId).execute();
    if (!identities.some((i) => i.id === identityId)) return "not_found";
    const others = identities.filter((i) => i.id !== identityId && signInIssuers.includes(i.issuer)).length;
    if (user.password_hash === null && others === 0) return "last_sign_in";
    await trx.deleteFrom("identities").where("id", "=", identityId).where("user_id", "=", userId).execute();
    return "unlinked";
  });
}

/** Sets a user's instance-admin flag; true when it changed. */
export async function setInstanceAdminFlag(db: Kysely<Database>, userId: string, admin: boolean): Promise<boolean> {
  const r = await db.updateTable("users").set({ is_instance_admin: admin }).where("id", "=", userId).where("is_instance_admin", "!=", admin).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The insert of an identity row that does nothing when (issuer, subject) is taken: the one place both provisioning and linking write it. */
function insertIdentityUnlessTaken(db: Kysely<Database>, userId: string, issuer: string, subject: string, profile: IdentityProfile, providerId: string | null) {
  return db
    .insertInto("identities")
    .values({
      user_id: userId,
      issuer,
      subject,
      email: profile.email,
      email_verified: profile.emailVerified ?? false,
      name: profile.name,
      image: profile.image,
      provider_id: providerId,
    })
    .onConflict((oc) => oc.columns(["issuer", "subject"]).doNothing());
}
