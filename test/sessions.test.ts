/**
 * Sessions (issue 10): ListSessions, RevokeSession, RevokeAllSessions, the idle and
 * absolute session ends with a controllable clock, SetUserDisabled (what stops at
 * once, what within the documented window) and RevokeUserSessions (an instance admin
 * ending one user's or every user's sessions), on PostgreSQL and PGlite.
 */
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { DB_KINDS, freshIp, useTessera } from "./harness.js";
import { createTeamAccount, mintApiKey } from "./helpers/principals.js";
import { codeOf } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const IDLE = 3600;
const MAX = 7200;

describe.each(DB_KINDS)("sessions on %s", (kind) => {
  const tessera = useTessera({
    db: kind,
    env: { AUTH_MODE: "full", AUTH_SESSION_IDLE_TIMEOUT: String(IDLE), AUTH_SESSION_MAX_LIFETIME: String(MAX) },
    forwardedFor: true,
  });
  const { clock } = tessera;
  const auth = (token?: string) => tessera.client(AuthService, { token });
  const newUser = () => tessera.signUp({ password: PASSWORD });

  async function login(email: string, ip = freshIp(), userAgent = "test-agent") {
    return (await tessera.client(AuthService, { ip, headers: { "user-agent": userAgent } }).login({ email, password: PASSWORD })).tokens!;
  }

  async function instanceAdmin() {
    const admin = await newUser();
    await tessera.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.tokens.userId).execute();
    return admin;
  }

  it("lists the caller's open sessions with client IP, user agent, the current flag and their end", async () => {
    const { email, tokens: signup } = await newUser();
    const b = await login(email, "10.200.0.2", "agent-b/1.0");
    const c = await login(email, "10.200.0.3", "agent-c/2.0");
    const headers: Headers[] = [];
    const { sessions } = await auth(b.accessToken).listSessions({}, { onHeader: (h) => headers.push(h) });
    expect(headers[0]?.get("cache-control")).toBe("no-store");
    expect(sessions).toHaveLength(3);
    const current = sessions.filter((s) => s.current);
    expect(current).toHaveLength(1);
    const sidOf = (at: string) => (JSON.parse(Buffer.from(at.split(".")[1]!, "base64url").toString()) as { sid: string }).sid;
    expect(current[0]!.id).toBe(sidOf(b.accessToken));
    const sb = sessions.find((s) => s.id === sidOf(b.accessToken))!;
    expect(sb.clientIp).toBe("10.200.0.2");
    expect(sb.userAgent).toBe("agent-b/1.0");
    expect(sessions.find((s) => s.id === sidOf(c.accessToken))?.userAgent).toBe("agent-c/2.0");
    // The end shown is the earlier of the idle end and the absolute end.
    const created = timestampDate(sb.createdAt!).getTime();
    expect(timestampDate(sb.lastUsedAt!).getTime()).toBe(created);
    expect(timestampDate(sb.expiresAt!).getTime()).toBe(created + IDLE * 1000);
    // Another user sees none of them.
    const other = await newUser();
    const theirs = (await auth(other.tokens.accessToken).listSessions({})).sessions;
    expect(theirs.map((s) => s.id)).toEqual([sidOf(other.tokens.accessToken)]);
    expect(theirs.map((s) => s.id)).not.toContain(sidOf(signup.accessToken));
  });

  it("revokes one session: its refresh token stops, the others keep working; another user's session is NotFound", async () => {
    const { email, tokens: a } = await newUser();
    const b = await login(email);
    const sidB = (await auth(b.accessToken).listSessions({})).sessions.find((s) => s.current)!.id;
    await auth(a.accessToken).revokeSession({ id: sidB });
    expect(await codeOf(auth().refreshToken({ refreshToken: b.refreshToken }))).toBe(Code.Unauthenticated);
    expect((await auth().refreshToken({ refreshToken: a.refreshToken })).tokens?.userId).toBe(a.userId);
    // Revoking it again is harmless; ids of other users or none at all are NotFound; garbage is InvalidArgument.
    expect(await codeOf(auth(a.accessToken).revokeSession({ id: sidB }))).toBe("ok");
    const other = await newUser();
    const otherSid = (await auth(other.tokens.accessToken).listSessions({})).sessions[0]!.id;
    expect(await codeOf(auth(a.accessToken).revokeSession({ id: otherSid }))).toBe(Code.NotFound);
    expect(await codeOf(auth(a.accessToken).revokeSession({ id: "7d9f1a52-0000-4000-8000-000000000000" }))).toBe(Code.NotFound);
    expect(await codeOf(auth(a.accessToken).revokeSession({ id: "not-a-uuid" }))).toBe(Code.InvalidArgument);
    // The other user's session survived.
    expect((await auth().refreshToken({ refreshToken: other.tokens.refreshToken })).tokens?.userId).toBe(other.tokens.userId);
    await tessera.server.app.deps.audit.flush();
    const ev = await tessera.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "auth.session.revoke.success")
      .where("actor_user_id", "=", a.userId)
      .execute();
    expect(ev).toHaveLength(1);
  });

  it("revokes all of the caller's sessions and returns how many", async () => {
    const { email, tokens: a } = await newUser();
    const b = await login(email);
    const c = await login(email);
    const other = await newUser();
    expect((await auth(c.accessToken).revokeAllSessions({})).revoked).toBe(3);
    for (const t of [a, b, c]) expect(await codeOf(auth().refreshToken({ refreshToken: t.refreshToken }))).toBe(Code.Unauthenticated);
    // The calling session ended too: its access token is refused at once, not at exp.
    expect(await codeOf(auth(c.accessToken).listSessions({}))).toBe(Code.Unauthenticated);
    const d = await login(email);
    expect((await auth(d.accessToken).revokeAllSessions({})).revoked).toBe(1);
    expect((await auth().refreshToken({ refreshToken: other.tokens.refreshToken })).tokens?.userId).toBe(other.tokens.userId);
  });

  it("ends a session after the idle timeout and at the absolute lifetime (controllable clock), and lists only open ones", async () => {
    const { email, tokens: idle } = await newUser();
    const busy = await login(email);
    clock.advance(IDLE - 600);
    // Keep `busy` alive with refreshes; `idle` is never refreshed.
    let rt = (await auth().refreshToken({ refreshToken: busy.refreshToken })).tokens!;
    clock.advance(601);
    expect(await codeOf(auth().refreshToken({ refreshToken: idle.refreshToken }))).toBe(Code.Unauthenticated);
    const listed = (await auth(rt.accessToken).listSessions({})).sessions;
    expect(listed).toHaveLength(1);
    expect(listed[0]!.current).toBe(true);
    // Absolute end: MAX seconds after login, however busy the session is.
    for (let t = IDLE + 1; t + 1800 < MAX; t += 1800) {
      clock.advance(1800);
      rt = (await auth().refreshToken({ refreshToken: rt.refreshToken })).tokens!;
    }
    const end = timestampDate((await auth(rt.accessToken).listSessions({})).sessions[0]!.expiresAt!).getTime();
    expect(Number(rt.refreshTokenExpiresAt!.seconds) * 1000).toBeLessThanOrEqual(end);
    clock.advance(Math.ceil((end - clock.now().getTime()) / 1000) + 1);
    expect(await codeOf(auth().refreshToken({ refreshToken: rt.refreshToken }))).toBe(Code.Unauthenticated);
    const fam = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", idle.userId).execute();
    expect(
      fam.every(
        (f) => f.revoked_at !== null || f.expires_at.getTime() <= clock.now().getTime() || f.last_used_at.getTime() + IDLE * 1000 <= clock.now().getTime(),
      ),
    ).toBe(true);
  });

  describe("SetUserDisabled", () => {
    it("disables a user: login, refresh and every session stop at once; its access token at once on this instance; re-enabling restores login only", async () => {
      const admin = await instanceAdmin();
      const { email, tokens: victim } = await newUser();
      expect((await auth(victim.accessToken).checkToken({})).userId).toBe(victim.userId);
      await auth(admin.tokens.accessToken).setUserDisabled({ userId: victim.userId, disabled: true });
      expect(await codeOf(auth().login({ email, password: PASSWORD }))).toBe(Code.Unauthenticated);
      expect(await codeOf(auth().refreshToken({ refreshToken: victim.refreshToken }))).toBe(Code.Unauthenticated);
      expect(await codeOf(auth(victim.accessToken).checkToken({}))).toBe(Code.Unauthenticated);
      const fams = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", victim.userId).execute();
      expect(fams.map((f) => f.revoked_reason)).toEqual(["user_disabled"]);

      await auth(admin.tokens.accessToken).setUserDisabled({ userId: victim.userId, disabled: false });
      const again = await login(email);
      expect((await auth(again.accessToken).checkToken({})).userId).toBe(victim.userId);
      // Sessions ended by the disable stay ended.
      expect(await codeOf(auth().refreshToken({ refreshToken: victim.refreshToken }))).toBe(Code.Unauthenticated);
      await tessera.server.app.deps.audit.flush();
      const ev = await tessera.database.db.kysely.selectFrom("audit_events").select("action").where("actor_user_id", "=", admin.tokens.userId).execute();
      expect(ev.map((e) => e.action)).toEqual(expect.arrayContaining(["auth.user.disable.success", "auth.user.enable.success"]));
    });

    it("stops an API key at once when its machine user is disabled, and restores it when re-enabled", async () => {
      const admin = await instanceAdmin();
      const account = await createTeamAccount(tessera.database.db.kysely);
      const key = await mintApiKey(tessera.database.db.kysely, account, { expiresAt: new Date(clock.now().getTime() + 30 * 86400_000) });
      expect((await auth(key.key).checkToken({})).principalKind).toBe(PrincipalKind.API_KEY);
      await auth(admin.tokens.accessToken).setUserDisabled({ userId: key.userId, disabled: true });
      expect(await codeOf(auth(key.key).checkToken({}))).toBe(Code.Unauthenticated);
      await auth(admin.tokens.accessToken).setUserDisabled({ userId: key.userId, disabled: false });
      expect((await auth(key.key).checkToken({})).apiKeyId).toBe(key.id);
    });

    it("refuses non-admins, self-disabling, unknown users and malformed ids with the right codes", async () => {
      const admin = await instanceAdmin();
      const plain = await newUser();
      expect(await codeOf(auth(plain.tokens.accessToken).setUserDisabled({ userId: admin.tokens.userId, disabled: true }))).toBe(Code.PermissionDenied);
      expect(await codeOf(auth(admin.tokens.accessToken).setUserDisabled({ userId: admin.tokens.userId, disabled: true }))).toBe(Code.FailedPrecondition);
      expect(await codeOf(auth(admin.tokens.accessToken).setUserDisabled({ userId: "3f1c9a4e-0000-4000-8000-000000000000", disabled: true }))).toBe(
        Code.NotFound,
      );
      expect(await codeOf(auth(admin.tokens.accessToken).setUserDisabled({ userId: "admin", disabled: true }))).toBe(Code.InvalidArgument);
      // A disabled instance admin is no admin any more.
      const admin2 = await instanceAdmin();
      await auth(admin2.tokens.accessToken).setUserDisabled({ userId: admin.tokens.userId, disabled: true });
      clock.advance(31);
      expect(await codeOf(auth(admin.tokens.accessToken).setUserDisabled({ userId: plain.tokens.userId, disabled: true }))).toBe(Code.Unauthenticated);
    });
  });

  describe("RevokeUserSessions", () => {
    it("ends every session of one user without disabling it; others' sessions and sign-in keep working", async () => {
      const admin = await instanceAdmin();
      const { email, tokens: first } = await newUser();
      const second = await login(email);
      const bystander = await newUser();
      const res = await auth(admin.tokens.accessToken).revokeUserSessions({ userId: first.userId.toUpperCase() });
      expect(res.revoked).toBe(2);
      for (const t of [first, second]) expect(await codeOf(auth().refreshToken({ refreshToken: t.refreshToken }))).toBe(Code.Unauthenticated);
      const fams = await tessera.database.db.kysely.selectFrom("refresh_families").select("revoked_reason").where("user_id", "=", first.userId).execute();
      expect(fams.map((f) => f.revoked_reason)).toEqual(["revoked_by_admin", "revoked_by_admin"]);
      // Not disabled: the user signs in again; the access tokens of the ended sessions are refused at once.
      const again = await login(email);
      expect((await auth(again.accessToken).checkToken({})).userId).toBe(first.userId);
      for (const t of [first, second]) expect(await codeOf(auth(t.accessToken).checkToken({}))).toBe(Code.Unauthenticated);
      // Someone else's session is untouched; a second call ends nothing more.
      expect((await auth().refreshToken({ refreshToken: bystander.tokens.refreshToken })).tokens?.userId).toBe(bystander.tokens.userId);
      expect((await auth(admin.tokens.accessToken).revokeUserSessions({ userId: bystander.tokens.userId })).revoked).toBe(1);
      expect((await auth(admin.tokens.accessToken).revokeUserSessions({ userId: bystander.tokens.userId })).revoked).toBe(0);
      // Naming itself, an admin ends all of its own sessions, the calling one included.
      expect((await auth(admin.tokens.accessToken).revokeUserSessions({ userId: admin.tokens.userId })).revoked).toBe(1);
      expect(await codeOf(auth().refreshToken({ refreshToken: admin.tokens.refreshToken }))).toBe(Code.Unauthenticated);

      await tessera.server.app.deps.audit.flush();
      const ev = await tessera.database.db.kysely
        .selectFrom("audit_events")
        .select(["action", "metadata"])
        .where("actor_user_id", "=", admin.tokens.userId)
        .where("action", "=", "auth.user_sessions.revoke.success")
        .orderBy("created_at")
        .execute();
      expect(ev.map((e) => e.metadata)).toEqual([
        { target_user_id: first.userId, revoked_sessions: 2 },
        { target_user_id: bystander.tokens.userId, revoked_sessions: 1 },
        { target_user_id: bystander.tokens.userId, revoked_sessions: 0 },
        { target_user_id: admin.tokens.userId, revoked_sessions: 1 },
      ]);
    });

    it("ends the sessions of every user except the one making the call", async () => {
      const admin = await instanceAdmin();
      const others = await Promise.all([newUser(), newUser(), newUser()]);
      const adminOther = await login(admin.email);
      const res = await auth(admin.tokens.accessToken).revokeUserSessions({ allUsers: true });
      expect(res.revoked).toBeGreaterThanOrEqual(others.length + 1);
      for (const o of others) expect(await codeOf(auth().refreshToken({ refreshToken: o.tokens.refreshToken }))).toBe(Code.Unauthenticated);
      expect(await codeOf(auth().refreshToken({ refreshToken: adminOther.refreshToken }))).toBe(Code.Unauthenticated);
      // The calling session survives, and nothing else is open anywhere.
      expect((await auth().refreshToken({ refreshToken: admin.tokens.refreshToken })).tokens?.userId).toBe(admin.tokens.userId);
      const open = await tessera.database.db.kysely.selectFrom("refresh_families").select("user_id").where("revoked_at", "is", null).execute();
      expect(open.map((f) => f.user_id)).toEqual([admin.tokens.userId]);
    });

    it("refuses non-admins, API keys, unknown users and ambiguous or malformed requests with the right codes", async () => {
      const admin = await instanceAdmin();
      const plain = await newUser();
      const a = auth(admin.tokens.accessToken);
      expect(await codeOf(auth(plain.tokens.accessToken).revokeUserSessions({ userId: admin.tokens.userId }))).toBe(Code.PermissionDenied);
      expect(await codeOf(auth(plain.tokens.accessToken).revokeUserSessions({ allUsers: true }))).toBe(Code.PermissionDenied);
      const account = await createTeamAccount(tessera.database.db.kysely);
      const key = await mintApiKey(tessera.database.db.kysely, account, { expiresAt: new Date(clock.now().getTime() + 86400_000) });
      expect(await codeOf(auth(key.key).revokeUserSessions({ allUsers: true }))).toBe(Code.PermissionDenied);
      expect(await codeOf(auth().revokeUserSessions({ allUsers: true }))).toBe(Code.Unauthenticated);
      expect(await codeOf(a.revokeUserSessions({}))).toBe(Code.InvalidArgument);
      expect(await codeOf(a.revokeUserSessions({ userId: plain.tokens.userId, allUsers: true }))).toBe(Code.InvalidArgument);
      expect(await codeOf(a.revokeUserSessions({ userId: "admin" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(a.revokeUserSessions({ userId: "3f1c9a4e-0000-4000-8000-000000000000" }))).toBe(Code.NotFound);
      // Nothing above ended the plain user's session.
      expect((await auth().refreshToken({ refreshToken: plain.tokens.refreshToken })).tokens?.userId).toBe(plain.tokens.userId);
    });
  });

  it("keeps a password valid however old it is (no periodic rotation)", async () => {
    const { email } = await newUser();
    clock.advance(400 * 86400);
    expect((await login(email)).userId).toBeTruthy();
  });
});
