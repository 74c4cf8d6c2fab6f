/**
 * Finding 2 of issue 13: rotating the admin credentials must evict the old admin.
 * A restart with a new AUTH_ADMIN_EMAIL (or only a new AUTH_ADMIN_PASSWORD) ends every
 * session of the previous admin, leaves the instance-admin flag on the configured admin
 * only, re-enables the configured admin, and nobody can disable it. On PostgreSQL and PGlite.
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import { Code } from "@connectrpc/connect";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import type { TestServer } from "../helpers/server.js";
import { codeOf, expectCode } from "../helpers/outcome.js";

const PW1 = "first admin password";
const PW2 = "second admin password";

describe.each(DB_KINDS)("finding 2: admin credential rotation on %s", (kind) => {
  const tessera = useTessera({ db: kind, server: false });
  const { clock } = tessera;

  const admin = (email: string, password: string) => ({ AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: email, AUTH_ADMIN_PASSWORD: password });
  const start = (env: Record<string, string>) => tessera.startServer({ env });
  async function withServer<T>(env: Record<string, string>, fn: (s: TestServer) => Promise<T>): Promise<T> {
    const s = await start(env);
    try {
      return await fn(s);
    } finally {
      await s.close();
    }
  }
  const login = (s: TestServer, email: string, password: string) =>
    s
      .client(AuthService)
      .login({ email, password })
      .then((r) => r.tokens!);
  const user = (id: string) => tessera.database.db.kysely.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const openSessions = (userId: string) =>
    tessera.database.db.kysely.selectFrom("refresh_families").select("id").where("user_id", "=", userId).where("revoked_at", "is", null).execute();

  it("finding 2: a new AUTH_ADMIN_EMAIL and password end every session of the previous admin and take away its admin rights", async () => {
    const [oldEmail, newEmail] = [`old-admin-${kind}@example.com`, `new-admin-${kind}@example.com`];
    const old = await withServer(admin(oldEmail, PW1), (s) => login(s, oldEmail, PW1));
    clock.advance(5);

    const fresh = await withServer(admin(newEmail, PW2), async (s) => {
      // The review's reproduction: the old admin's refresh token worked, and its SetUserDisabled locked the new admin out.
      await expectCode(s.client(AuthService).refreshToken({ refreshToken: old.refreshToken }), Code.Unauthenticated);
      await expectCode(s.client(AuthService, { token: old.accessToken }).checkToken({}), Code.Unauthenticated);
      const fresh = await login(s, newEmail, PW2);
      await expectCode(s.client(AuthService, { token: old.accessToken }).setUserDisabled({ userId: fresh.userId, disabled: true }), Code.Unauthenticated);
      await expectCode(s.client(AuthService).login({ email: oldEmail, password: PW1 }), Code.Unauthenticated);
      expect((await s.client(AuthService, { token: fresh.accessToken }).checkToken({})).userId).toBe(fresh.userId);
      return fresh;
    });
    expect(fresh.userId).not.toBe(old.userId);
    const [was, now] = [await user(old.userId), await user(fresh.userId)];
    expect(was.is_instance_admin).toBe(false);
    expect(await openSessions(old.userId)).toEqual([]);
    expect(now.is_instance_admin).toBe(true);
    expect(now.disabled_at).toBeNull();
    expect(
      await tessera.database.db.kysely
        .selectFrom("users")
        .select("id")
        .where("is_instance_admin", "=", true)
        .where("kind", "=", "human")
        .where("id", "!=", "00000000-0000-0000-0000-000000000001")
        .execute(),
    ).toEqual([{ id: fresh.userId }]);

    // Unchanged configuration: the new admin still gets in, its session survives the restart.
    clock.advance(5);
    await withServer(admin(newEmail, PW2), async (s) => {
      expect(await codeOf(s.client(AuthService).refreshToken({ refreshToken: fresh.refreshToken }))).toBe("ok");
      await login(s, newEmail, PW2);
    });

    // In full mode the previous admin is an ordinary user: it signs in, but holds no instance-admin rights.
    await withServer({ AUTH_MODE: "full" }, async (s) => {
      const t = await login(s, oldEmail, PW1);
      await expectCode(s.client(AuthService, { token: t.accessToken }).setUserDisabled({ userId: fresh.userId, disabled: true }), Code.PermissionDenied);
    });
    expect((await user(fresh.userId)).disabled_at).toBeNull();
  });

  it("finding 2: a new AUTH_ADMIN_PASSWORD alone ends every session of the admin, and its access tokens", async () => {
    const email = `rotate-pw-${kind}@example.com`;
    const first = await withServer(admin(email, PW1), (s) => login(s, email, PW1));
    clock.advance(5);
    const second = await withServer(admin(email, PW2), async (s) => {
      await expectCode(s.client(AuthService).refreshToken({ refreshToken: first.refreshToken }), Code.Unauthenticated);
      await expectCode(s.client(AuthService, { token: first.accessToken }).checkToken({}), Code.Unauthenticated);
      await expectCode(s.client(AuthService).login({ email, password: PW1 }), Code.Unauthenticated);
      const t = await login(s, email, PW2);
      expect(t.userId).toBe(first.userId);
      expect((await s.client(AuthService, { token: t.accessToken }).checkToken({})).userId).toBe(t.userId);
      return t;
    });
    expect((await openSessions(first.userId)).map((r) => r.id)).toHaveLength(1);
    // The same password again: nothing ends.
    clock.advance(5);
    await withServer(admin(email, PW2), async (s) => {
      expect((await s.client(AuthService, { token: second.accessToken }).checkToken({})).userId).toBe(second.userId);
      expect(await codeOf(s.client(AuthService).refreshToken({ refreshToken: second.refreshToken }))).toBe("ok");
    });
  });

  it("finding 2: the configured admin is re-enabled at startup and nobody can disable it, not even a previous admin on an instance still running", async () => {
    const [oldEmail, newEmail] = [`still-running-${kind}@example.com`, `took-over-${kind}@example.com`];
    const oldInstance = await start(admin(oldEmail, PW1));
    try {
      const old = await login(oldInstance, oldEmail, PW1);
      clock.advance(5);
      const newInstance = await start(admin(newEmail, PW2));
      try {
        const fresh = await login(newInstance, newEmail, PW2);
        // The old admin, on the instance that still runs with the old configuration, tries to lock the new one out.
        expect(await codeOf(oldInstance.client(AuthService, { token: old.accessToken }).setUserDisabled({ userId: fresh.userId, disabled: true }))).not.toBe(
          "ok",
        );
        expect((await user(fresh.userId)).disabled_at).toBeNull();
        // The configured admin cannot disable itself either, with a message that says why.
        await expectCode(
          newInstance.client(AuthService, { token: fresh.accessToken }).setUserDisabled({ userId: fresh.userId, disabled: true }),
          Code.FailedPrecondition,
          /configured admin/,
        );
        await login(newInstance, newEmail, PW2);
      } finally {
        await newInstance.close();
      }
    } finally {
      await oldInstance.close();
    }
    // However it came to be disabled (here: behind Tessera's back), the next start re-enables it.
    const id = (await tessera.database.db.kysely.selectFrom("users").select("id").where("email_normalized", "=", newEmail).executeTakeFirstOrThrow()).id;
    await tessera.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", id).execute();
    clock.advance(5);
    await withServer(admin(newEmail, PW2), async (s) => {
      expect((await login(s, newEmail, PW2)).userId).toBe(id);
    });
    expect((await user(id)).disabled_at).toBeNull();
  });
});
