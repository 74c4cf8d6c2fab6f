/**
 * Password sign-up and login in AUTH_MODE=full, on PostgreSQL and PGlite: tokens,
 * CheckToken, email normalization, password limits, no user enumeration.
 */
import { describe, expect, it, vi } from "vitest";
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { INVALID_LOGIN } from "../packages/server/src/services/auth/password.js";
import { passwordHashing } from "../packages/server/src/auth/passwords/hashing.js";
import { DB_KINDS, useTessera } from "./harness.js";
import { expectCode } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";

function uniqueEmail(): string {
  return `user-${randomBytes(5).toString("hex")}@example.com`;
}

describe.each(DB_KINDS)("password sign-up and login on %s", (kind) => {
  // Each client from its own address, so per-address abuse limits stay out of the way.
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });
  const client = (token?: string) => t.client(AuthService, { token });

  it("signs up, logs in and calls CheckToken with the access token", async () => {
    const email = uniqueEmail();
    const up = await client().signUp({ email, password: PASSWORD, name: "Ada" });
    expect(up.tokens?.tokenType).toBe("Bearer");
    expect(up.tokens?.accessToken.split(".")).toHaveLength(3);
    expect(up.tokens?.refreshToken).toMatch(/^tsr_[A-Za-z0-9_-]{43}$/);
    expect(up.tokens?.expiresIn).toBe(900n);
    const userId = up.tokens!.userId;

    const login = await client().login({ email, password: PASSWORD });
    expect(login.tokens?.userId).toBe(userId);
    const check = await client(login.tokens!.accessToken).checkToken({});
    expect(check.userId).toBe(userId);
    expect(check.principalKind).toBe(PrincipalKind.USER);

    // The sign-up created a personal account with the user as admin.
    const acct = await t.database.db.kysely.selectFrom("accounts").selectAll().where("personal_user_id", "=", userId).executeTakeFirst();
    expect(acct?.kind).toBe("personal");
    const hash = await t.database.db.kysely.selectFrom("users").select("password_hash").where("id", "=", userId).executeTakeFirstOrThrow();
    expect(hash.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("sends Cache-Control: no-store with tokens", async () => {
    const email = uniqueEmail();
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/SignUp`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "10.9.9.9" },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("trims and case-folds emails, and refuses a duplicate sign-up", async () => {
    const local = `Mixed-${randomBytes(4).toString("hex")}`;
    await client().signUp({ email: `  ${local}@Example.COM `, password: PASSWORD });
    const login = await client().login({ email: `${local.toLowerCase()}@example.com`, password: PASSWORD });
    expect(login.tokens?.accessToken).toBeTruthy();
    await expectCode(client().signUp({ email: `${local.toUpperCase()}@EXAMPLE.com`, password: PASSWORD }), Code.AlreadyExists);
    // NFKC: fullwidth letters fold to ASCII.
    const full = `${local}＠example.com`.replace(/M/, "Ｍ");
    const login2 = await client().login({ email: full, password: PASSWORD });
    expect(login2.tokens?.userId).toBe(login.tokens?.userId);
  });

  it("gives the same error for a wrong password and an unknown email, verifying a hash on both paths", async () => {
    const email = uniqueEmail();
    await client().signUp({ email, password: PASSWORD });
    const spy = vi.spyOn(passwordHashing, "verify");
    try {
      const wrong = await expectCode(client().login({ email, password: "not the right password" }), Code.Unauthenticated);
      expect(spy).toHaveBeenCalledTimes(1);
      const unknown = await expectCode(client().login({ email: uniqueEmail(), password: PASSWORD }), Code.Unauthenticated);
      expect(spy).toHaveBeenCalledTimes(2);
      expect(wrong.rawMessage).toBe(INVALID_LOGIN);
      expect(unknown.rawMessage).toBe(INVALID_LOGIN);
      // Not even an email: same answer, same cost.
      const garbage = await expectCode(client().login({ email: "not-an-email", password: PASSWORD }), Code.Unauthenticated);
      expect(garbage.rawMessage).toBe(INVALID_LOGIN);
      expect(spy).toHaveBeenCalledTimes(3);
    } finally {
      spy.mockRestore();
    }
  });

  it("enforces password length 12..128 characters and 512 bytes", async () => {
    await expectCode(client().signUp({ email: uniqueEmail(), password: "short-11chr" }), Code.InvalidArgument, /at least 12/);
    await expectCode(client().signUp({ email: uniqueEmail(), password: "x".repeat(129) }), Code.InvalidArgument, /at most 128/);
    // 128 characters is fine, 12 too (counted in code points: 12 emoji are 48 bytes). Both
    // must also pass the strength check (issue 10), so no repeated single characters.
    await client().signUp({ email: uniqueEmail(), password: "Kx7#mQ2v-river-Lantern-9pZ!".repeat(5).slice(0, 128) });
    await client().signUp({ email: uniqueEmail(), password: "🦊🐙🌵🚲🎻🧭🪁🥝🛶🧩🪐🦉" });
    // 129 four-byte characters: 516 bytes, rejected on bytes before hashing.
    const spy = vi.spyOn(passwordHashing, "hash");
    try {
      await expectCode(client().signUp({ email: uniqueEmail(), password: "😀".repeat(129) }), Code.InvalidArgument, /512 bytes/);
      await expectCode(client().login({ email: uniqueEmail(), password: "a".repeat(513) }), Code.InvalidArgument, /512 bytes/);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    // Used exactly as sent: no trimming.
    const email = uniqueEmail();
    await client().signUp({ email, password: ` ${PASSWORD} ` });
    await expectCode(client().login({ email, password: PASSWORD }), Code.Unauthenticated);
    await client().login({ email, password: ` ${PASSWORD} ` });
  });

  it("upgrades a hash made with a lower cost at the next successful login", async () => {
    const { hash } = await import("@node-rs/argon2");
    const email = uniqueEmail();
    const weak = await hash(PASSWORD, { memoryCost: 8192, timeCost: 1, parallelism: 1, algorithm: 2 });
    await t.database.db.kysely.insertInto("users").values({ kind: "human", email, email_normalized: email, password_hash: weak }).execute();
    await expectCode(client().login({ email, password: "a wrong password!" }), Code.Unauthenticated);
    const still = await t.database.db.kysely.selectFrom("users").select("password_hash").where("email_normalized", "=", email).executeTakeFirstOrThrow();
    expect(still.password_hash).toBe(weak);
    await client().login({ email, password: PASSWORD });
    const row = await t.database.db.kysely.selectFrom("users").select("password_hash").where("email_normalized", "=", email).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await client().login({ email, password: PASSWORD });
  });

  it("rejects invalid emails at sign-up", async () => {
    await expectCode(client().signUp({ email: "nobody", password: PASSWORD }), Code.InvalidArgument);
    await expectCode(client().signUp({ email: "", password: PASSWORD }), Code.InvalidArgument);
  });

  it("refuses login and tokens of a disabled user with the generic message", async () => {
    const email = uniqueEmail();
    const up = await client().signUp({ email, password: PASSWORD });
    await t.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", up.tokens!.userId).execute();
    const e = await expectCode(client().login({ email, password: PASSWORD }), Code.Unauthenticated);
    expect(e.rawMessage).toBe(INVALID_LOGIN);
    await expectCode(client().refreshToken({ refreshToken: up.tokens!.refreshToken }), Code.Unauthenticated);
  });

  it("records login audit events without secrets", async () => {
    const email = uniqueEmail();
    await client().signUp({ email, password: PASSWORD });
    await client().login({ email, password: PASSWORD });
    await expectCode(client().login({ email, password: "wrong password here" }), Code.Unauthenticated);
    await t.server.app.deps.audit.flush();
    const rows = await t.database.db.kysely.selectFrom("audit_events").selectAll().where("action", "like", "auth.%").execute();
    const actions = rows.map((r) => r.action);
    expect(actions).toContain("auth.signup.success");
    expect(actions).toContain("auth.login.success");
    expect(actions).toContain("auth.login.failure");
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(PASSWORD);
    expect(dump).not.toContain("wrong password here");
    expect(dump).not.toContain(email);
  });
});

describe("password settings", () => {
  const t = useTessera({ server: false });

  it("refuses sign-up when AUTH_DISABLE_SIGNUP, and all password calls when AUTH_DISABLE_PASSWORD", async () => {
    const s1 = await t.startServer({ env: { AUTH_MODE: "full", AUTH_DISABLE_SIGNUP: "true" } });
    try {
      const c = s1.client(AuthService);
      expect((await c.getAuthConfig({})).signupEnabled).toBe(false);
      await expectCode(c.signUp({ email: uniqueEmail(), password: PASSWORD }), Code.FailedPrecondition);
    } finally {
      await s1.close();
    }
    const s2 = await t.startServer({ env: { AUTH_MODE: "full", AUTH_DISABLE_PASSWORD: "true" } });
    try {
      const c = s2.client(AuthService);
      expect((await c.getAuthConfig({})).passwordLoginEnabled).toBe(false);
      await expectCode(c.login({ email: uniqueEmail(), password: PASSWORD }), Code.FailedPrecondition);
    } finally {
      await s2.close();
    }
  });
});
