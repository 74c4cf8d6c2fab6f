/**
 * AUTH_MODE=admin at startup: the admin user and its personal account, password
 * changes on restart, sign-up off, only the admin may log in, and API keys made by
 * the anonymous user revoked when a deployment moves from none to admin.
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera, type TestDatabase } from "./harness.js";
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { AuthMode, AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ANONYMOUS_USER_ID, DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";
import { passwordHashing } from "../packages/server/src/auth/passwords/hashing.js";
import { codeOf as code } from "./helpers/outcome.js";

const ADMIN_EMAIL = "Admin@Example.com";
const PW1 = "first admin password";
const PW2 = "second admin password";

async function insertApiKey(database: TestDatabase, createdBy: string | null, accountId: string): Promise<{ keyId: string; machineId: string }> {
  const k = database.db.kysely;
  const machine = await k.insertInto("users").values({ kind: "machine", name: "key user" }).returning("id").executeTakeFirstOrThrow();
  const key = await k
    .insertInto("api_keys")
    .values({
      account_id: accountId,
      name: `key-${randomBytes(3).toString("hex")}`,
      key_hash: randomBytes(32).toString("hex"),
      start: "tsk_abcd",
      user_id: machine.id,
      created_by_id: createdBy,
      updated_at: new Date(),
      expires_at: new Date(Date.now() + 86400_000),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { keyId: key.id, machineId: machine.id };
}

describe.each(DB_KINDS)("AUTH_MODE=admin on %s", (kind) => {
  const tessera = useTessera({ db: kind, server: false });

  it("moves from none to admin: anonymous API keys revoked, admin created, password changes on restart", async () => {
    // A deployment in AUTH_MODE=none with an API key made by the anonymous user.
    const none = await tessera.startServer();
    const anonKey = await insertApiKey(tessera.database, ANONYMOUS_USER_ID, DEFAULT_ACCOUNT_ID);
    await none.close();

    const env = { AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: ADMIN_EMAIL, AUTH_ADMIN_PASSWORD: PW1 };
    const s1 = await tessera.startServer({ env });
    let adminId: string;
    try {
      const k = tessera.database.db.kysely;
      expect(await k.selectFrom("api_keys").select("id").where("id", "=", anonKey.keyId).executeTakeFirst()).toBeUndefined();
      expect(await k.selectFrom("users").select("id").where("id", "=", anonKey.machineId).executeTakeFirst()).toBeUndefined();

      const admin = await k.selectFrom("users").selectAll().where("email_normalized", "=", "admin@example.com").executeTakeFirstOrThrow();
      adminId = admin.id;
      expect(admin.is_instance_admin).toBe(true);
      expect(admin.email).toBe(ADMIN_EMAIL);
      expect(admin.password_hash).toMatch(/^\$argon2id\$/);
      const personal = await k.selectFrom("accounts").selectAll().where("personal_user_id", "=", admin.id).executeTakeFirst();
      expect(personal?.kind).toBe("personal");

      const c = s1.client(AuthService);
      const cfg = await c.getAuthConfig({});
      expect(cfg.mode).toBe(AuthMode.ADMIN);
      expect(cfg.signupEnabled).toBe(false);
      expect(cfg.passwordLoginEnabled).toBe(true);
      expect(await code(c.signUp({ email: "someone@example.com", password: "a long enough password" }))).toBe(Code.FailedPrecondition);

      const t = (await c.login({ email: " admin@EXAMPLE.com ", password: PW1 })).tokens!;
      expect(t.userId).toBe(admin.id);
      const who = await s1.client(AuthService, { token: t.accessToken }).checkToken({});
      expect(who.principalKind).toBe(PrincipalKind.USER);
      expect(who.userId).toBe(admin.id);
      // No bearer, no access in admin mode.
      expect(await code(c.checkToken({}))).toBe(Code.Unauthenticated);
    } finally {
      await s1.close();
    }

    // Another password user (e.g. from an earlier full-mode deployment) cannot log in in admin mode.
    await tessera.database.db.kysely
      .insertInto("users")
      .values({ kind: "human", email: "other@example.com", email_normalized: "other@example.com", password_hash: await passwordHashing.hash(PW1) })
      .execute();

    // Same password on restart: no rehash.
    const hashBefore = (await tessera.database.db.kysely.selectFrom("users").select("password_hash").where("id", "=", adminId).executeTakeFirstOrThrow())
      .password_hash;
    const s2 = await tessera.startServer({ env });
    try {
      const hashAfter = (await tessera.database.db.kysely.selectFrom("users").select("password_hash").where("id", "=", adminId).executeTakeFirstOrThrow())
        .password_hash;
      expect(hashAfter).toBe(hashBefore);
      expect(await code(s2.client(AuthService).login({ email: "other@example.com", password: PW1 }))).toBe(Code.Unauthenticated);
    } finally {
      await s2.close();
    }

    // Changed password on restart: the old one stops working, same user.
    const s3 = await tessera.startServer({ env: { ...env, AUTH_ADMIN_PASSWORD: PW2 } });
    try {
      const c = s3.client(AuthService);
      expect(await code(c.login({ email: ADMIN_EMAIL, password: PW1 }))).toBe(Code.Unauthenticated);
      const t = (await c.login({ email: ADMIN_EMAIL, password: PW2 })).tokens!;
      expect(t.userId).toBe(adminId);
      const admins = await tessera.database.db.kysely.selectFrom("users").select("id").where("email_normalized", "=", "admin@example.com").execute();
      expect(admins).toHaveLength(1);
    } finally {
      await s3.close();
    }
  });

  it("keeps API keys made by real users when auth is enabled", async () => {
    const k = tessera.database.db.kysely;
    const owner = await k.insertInto("users").values({ kind: "human", name: "owner" }).returning("id").executeTakeFirstOrThrow();
    const kept = await insertApiKey(tessera.database, owner.id, DEFAULT_ACCOUNT_ID);
    const s = await tessera.startServer({ env: { AUTH_MODE: "full" } });
    try {
      expect(await k.selectFrom("api_keys").select("id").where("id", "=", kept.keyId).executeTakeFirst()).toBeDefined();
    } finally {
      await s.close();
    }
  });
});
