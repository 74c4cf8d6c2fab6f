/**
 * Issue 13, finding 12: ChangePassword kept every other session unless the caller asked
 * (`revoke_other_sessions`), so a thief holding a session outlived the password change
 * meant to lock them out. Now ending every other session is the default; the caller's
 * own session is kept; `keep_other_sessions` opts out. Against the real server, on
 * PostgreSQL and PGlite.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createTestDatabase, DB_KINDS, type TestDatabase } from "../helpers/db.js";
import { expectCode } from "../helpers/outcome.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "violet kettle drums at dawn";

describe.each(DB_KINDS)("finding 12 on %s", (kind) => {
  let database: TestDatabase;
  let server: TestServer;

  const auth = (token?: string) => {
    const b = randomBytes(3);
    const headers: Record<string, string> = { "x-forwarded-for": `10.${b[0]}.${b[1]}.${b[2]}` };
    if (token) headers.authorization = `Bearer ${token}`;
    return createClient(AuthService, server.transport("connect", headers));
  };

  /** A user with three sessions (sign-up and two logins). */
  async function userWithThreeSessions() {
    const email = `f12-${randomBytes(5).toString("hex")}@example.com`;
    const a = (await auth().signUp({ email, password: PASSWORD })).tokens!;
    const b = (await auth().login({ email, password: PASSWORD })).tokens!;
    const c = (await auth().login({ email, password: PASSWORD })).tokens!;
    return { email, a, b, c };
  }

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    server = await startTestServer(database, { env: { AUTH_MODE: "full", TRUST_PROXY_HOPS: "1" } });
  });
  afterAll(async () => {
    await server?.close();
    await database?.drop();
  });

  it("finding 12: ChangePassword ends every other session by default and keeps the caller's", async () => {
    const { a, b, c } = await userWithThreeSessions();
    await auth(b.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    for (const t of [a, c]) await expectCode(auth().refreshToken({ refreshToken: t.refreshToken }), Code.Unauthenticated);
    const b2 = (await auth().refreshToken({ refreshToken: b.refreshToken })).tokens!;
    const sessions = (await auth(b2.accessToken).listSessions({})).sessions;
    expect(sessions.map((s) => s.current)).toEqual([true]);
    await server.app.deps.audit.flush();
    const ev = await database.db.kysely.selectFrom("audit_events").select("metadata").where("actor_user_id", "=", a.userId).where("action", "=", "auth.password_change.success").execute();
    expect(ev.map((e) => e.metadata)).toEqual([{ revoked_sessions: 2 }]);
  });

  it("finding 12: the deprecated revoke_other_sessions changes nothing; keep_other_sessions opts out; asking for both is refused", async () => {
    const u = await userWithThreeSessions();
    await auth(u.b.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeOtherSessions: true });
    for (const t of [u.a, u.c]) await expectCode(auth().refreshToken({ refreshToken: t.refreshToken }), Code.Unauthenticated);

    const v = await userWithThreeSessions();
    await expectCode(
      auth(v.b.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeOtherSessions: true, keepOtherSessions: true }),
      Code.InvalidArgument,
      /revoke_other_sessions and keep_other_sessions/,
    );
    // Refused before anything changed: the password is still the old one.
    expect((await auth().login({ email: v.email, password: PASSWORD })).tokens?.userId).toBe(v.a.userId);
    await auth(v.b.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, keepOtherSessions: true });
    for (const t of [v.a, v.b, v.c]) expect((await auth().refreshToken({ refreshToken: t.refreshToken })).tokens?.userId).toBe(v.a.userId);
  });
});
