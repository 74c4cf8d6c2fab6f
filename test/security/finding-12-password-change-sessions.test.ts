/**
 * Issue 13, finding 12: ChangePassword kept every other session unless the caller asked
 * (`revoke_other_sessions`), so a thief holding a session outlived the password change
 * meant to lock them out. Now ending every other session is the default; the caller's
 * own session is kept; `keep_other_sessions` opts out. Against the real server, on
 * PostgreSQL and PGlite.
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import { Code } from "@connectrpc/connect";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { expectCode } from "../helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "violet kettle drums at dawn";

describe.each(DB_KINDS)("finding 12 on %s", (kind) => {
  const tessera = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });

  const auth = (token?: string) => tessera.client(AuthService, { token });

  /** A user with three sessions (sign-up and two logins). */
  async function userWithThreeSessions() {
    const { email, tokens: a } = await tessera.signUp({ password: PASSWORD });
    const b = (await auth().login({ email, password: PASSWORD })).tokens!;
    const c = (await auth().login({ email, password: PASSWORD })).tokens!;
    return { email, a, b, c };
  }

  it("finding 12: ChangePassword ends every other session by default and keeps the caller's", async () => {
    const { a, b, c } = await userWithThreeSessions();
    await auth(b.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    for (const t of [a, c]) await expectCode(auth().refreshToken({ refreshToken: t.refreshToken }), Code.Unauthenticated);
    const b2 = (await auth().refreshToken({ refreshToken: b.refreshToken })).tokens!;
    const sessions = (await auth(b2.accessToken).listSessions({})).sessions;
    expect(sessions.map((s) => s.current)).toEqual([true]);
    await tessera.server.app.deps.audit.flush();
    const ev = await tessera.database.db.kysely
      .selectFrom("audit_events")
      .select("metadata")
      .where("actor_user_id", "=", a.userId)
      .where("action", "=", "auth.password_change.success")
      .execute();
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
