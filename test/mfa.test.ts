/**
 * The second factor (issue 18), on PostgreSQL and PGlite: TOTP enrolment, sign-in with
 * a challenge and VerifyMfa, what sessions and tokens say about it (amr, assurance
 * level), replay, the ±1 step window, tries per challenge and per user, recovery codes
 * (once, and races), DisableTotp and RegenerateRecoveryCodes, encryption at rest, and
 * no secret in the logs. Mail goes to a real SMTP server started in the test.
 */
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { MfaService } from "../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import { DB_KINDS, useSmtpSink, useTessera } from "./harness.js";
import { codeAt, enrolTotp, loginChallenge } from "./helpers/mfa.js";
import { codeOf, expectCode } from "./helpers/outcome.js";

const KEY = randomBytes(32).toString("base64");

describe.each(DB_KINDS)("MFA on %s", (kind) => {
  const sink = useSmtpSink();
  const t = useTessera({
    db: kind,
    env: () => ({ AUTH_MODE: "full", MFA_ENCRYPTION_KEY: KEY, SMTP_URL: sink.url, SMTP_FROM: "auth@example.test" }),
    forwardedFor: true,
  });
  const auth = (token?: string) => t.client(AuthService, { token });
  const mfa = (token?: string) => t.client(MfaService, { token });
  const now = () => t.clock.now();
  /** A user with TOTP on; the clock is moved past the step its confirmation used. */
  async function enrolledUser() {
    const user = await t.signUp();
    const enrolled = await enrolTotp(mfa(user.accessToken), now, user.password);
    t.clock.advance(30);
    return { ...user, ...enrolled };
  }
  const failures = async (userId: string) => {
    await t.server.app.deps.audit.flush();
    return t.database.db.kysely.selectFrom("audit_events").selectAll().where("action", "=", "mfa.failed").where("actor_user_id", "=", userId).execute();
  };

  it("enrol → confirm → Login answers a challenge → VerifyMfa with a code → tokens with amr otp and level 2 in CheckToken, ListSessions and after refresh", async () => {
    const user = await t.signUp();
    const plain = await auth(user.accessToken).checkToken({});
    expect(plain.amr).toEqual(["pwd"]);
    expect(plain.assuranceLevel).toBe(1);
    expect((await mfa(user.accessToken).getMfaStatus({})).totpEnabled).toBe(false);

    const enrolled = await enrolTotp(mfa(user.accessToken), now, user.password);
    expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrolled.otpauthUri).toBe(
      `otpauth://totp/Tessera:${encodeURIComponent(user.email)}?secret=${enrolled.secret}&issuer=Tessera&algorithm=SHA1&digits=6&period=30`,
    );
    expect(enrolled.recoveryCodes).toHaveLength(10);
    const status = await mfa(user.accessToken).getMfaStatus({});
    expect(status.totpEnabled).toBe(true);
    expect(status.recoveryCodesRemaining).toBe(10);
    await sink.waitFor((m) => m.to === user.email && m.subject === "Two-step sign-in was turned on");

    const res = await auth().login({ email: user.email, password: user.password });
    expect(res.tokens).toBeUndefined();
    const challenge = res.mfaChallenge!;
    expect(challenge.challenge).toMatch(/^tsm_/);
    expect(Number(challenge.expiresAt!.seconds) * 1000 - now().getTime()).toBeGreaterThan(4 * 60_000);
    t.clock.advance(30);
    const { tokens } = await mfa().verifyMfa({ challenge: challenge.challenge, code: codeAt(enrolled.key, now()) });
    const checked = await auth(tokens!.accessToken).checkToken({});
    expect(checked.userId).toBe(user.userId);
    expect(checked.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(checked.assuranceLevel).toBe(2);
    const sessions = (await auth(tokens!.accessToken).listSessions({})).sessions;
    const current = sessions.find((s) => s.current)!;
    expect(current.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(current.assuranceLevel).toBe(2);
    expect(sessions.find((s) => !s.current)?.assuranceLevel).toBe(1);
    const refreshed = await auth().refreshToken({ refreshToken: tokens!.refreshToken });
    expect((await auth(refreshed.tokens!.accessToken).checkToken({})).assuranceLevel).toBe(2);
    // The challenge is single-use.
    await expectCode(mfa().verifyMfa({ challenge: challenge.challenge, code: codeAt(enrolled.key, now(), 1) }), Code.NotFound);
  });

  it("refuses a replay: a code accepted once is refused on another challenge, and the failure is audited", async () => {
    const user = await enrolledUser();
    const code = codeAt(user.key, now());
    const first = await loginChallenge(auth(), user.email, user.password);
    const second = await loginChallenge(auth(), user.email, user.password);
    expect((await mfa().verifyMfa({ challenge: first, code })).tokens?.accessToken).toBeTruthy();
    await expectCode(mfa().verifyMfa({ challenge: second, code }), Code.InvalidArgument, /wrong code/);
    expect((await failures(user.userId)).map((r) => (r.metadata as Record<string, unknown>).reason)).toEqual(["code_reused"]);
  });

  it("accepts a code one step early or late and refuses two steps away", async () => {
    const user = await enrolledUser();
    t.clock.advance(60);
    const a = await loginChallenge(auth(), user.email, user.password);
    expect(await codeOf(mfa().verifyMfa({ challenge: a, code: codeAt(user.key, now(), -1) }))).toBe("ok");
    const b = await loginChallenge(auth(), user.email, user.password);
    await expectCode(mfa().verifyMfa({ challenge: b, code: codeAt(user.key, now(), -2) }), Code.InvalidArgument);
    await expectCode(mfa().verifyMfa({ challenge: b, code: codeAt(user.key, now(), 2) }), Code.InvalidArgument);
    expect(await codeOf(mfa().verifyMfa({ challenge: b, code: codeAt(user.key, now(), 1) }))).toBe("ok");
  });

  it("kills a challenge after 5 wrong tries: the right code then gets NotFound", async () => {
    const user = await enrolledUser();
    const challenge = await loginChallenge(auth(), user.email, user.password);
    const right = codeAt(user.key, now());
    const wrong = right === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) await expectCode(mfa().verifyMfa({ challenge, code: wrong }), Code.InvalidArgument);
    await expectCode(mfa().verifyMfa({ challenge, code: right }), Code.NotFound, /ran out of tries/);
    expect(await failures(user.userId)).toHaveLength(5);
  });

  it("limits codes per user across challenges: 10 per 15 minutes, then ResourceExhausted with retry-after", async () => {
    const user = await enrolledUser();
    const wrong = (c: string) => mfa().verifyMfa({ challenge: c, code: codeAt(user.key, now()) === "000000" ? "111111" : "000000" });
    // Enrolment's confirmation counted 1; 9 wrong codes over two challenges make 10.
    const first = await loginChallenge(auth(), user.email, user.password);
    for (let i = 0; i < 5; i++) await expectCode(wrong(first), Code.InvalidArgument);
    const second = await loginChallenge(auth(), user.email, user.password);
    for (let i = 0; i < 4; i++) await expectCode(wrong(second), Code.InvalidArgument);
    const headers: Headers[] = [];
    const e = await expectCode(
      mfa().verifyMfa({ challenge: second, code: codeAt(user.key, now()) }, { onHeader: (h) => headers.push(h) }),
      Code.ResourceExhausted,
    );
    expect(Number(e.metadata.get("retry-after"))).toBeGreaterThan(0);
    t.clock.advance(15 * 60 + 1);
    const third = await loginChallenge(auth(), user.email, user.password);
    expect(await codeOf(mfa().verifyMfa({ challenge: third, code: codeAt(user.key, now()) }))).toBe("ok");
  });

  it("gives no tokens to a user disabled between the password and the code", async () => {
    const user = await enrolledUser();
    const challenge = await loginChallenge(auth(), user.email, user.password);
    await t.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", user.userId).execute();
    await expectCode(mfa().verifyMfa({ challenge, code: codeAt(user.key, now()) }), Code.Unauthenticated, /disabled/);
  });

  it("accepts a recovery code once (amr mfa, level 2), and refuses it the second time", async () => {
    const user = await enrolledUser();
    const code = user.recoveryCodes[0]!;
    const first = await loginChallenge(auth(), user.email, user.password);
    const { tokens } = await mfa().verifyMfa({ challenge: first, recoveryCode: code.toUpperCase() });
    const checked = await auth(tokens!.accessToken).checkToken({});
    expect(checked.amr).toEqual(["pwd", "mfa"]);
    expect(checked.assuranceLevel).toBe(2);
    const second = await loginChallenge(auth(), user.email, user.password);
    await expectCode(mfa().verifyMfa({ challenge: second, recoveryCode: code }), Code.InvalidArgument);
    expect((await mfa(tokens!.accessToken).getMfaStatus({})).recoveryCodesRemaining).toBe(9);
  });

  it("race: two VerifyMfa with one recovery code on two challenges, exactly one wins", async () => {
    const user = await enrolledUser();
    const [a, b] = [await loginChallenge(auth(), user.email, user.password), await loginChallenge(auth(), user.email, user.password)];
    const code = user.recoveryCodes[1]!;
    const outcomes = await Promise.all([
      codeOf(mfa().verifyMfa({ challenge: a, recoveryCode: code })),
      codeOf(mfa().verifyMfa({ challenge: b, recoveryCode: code })),
    ]);
    expect(outcomes.sort()).toEqual(["ok", Code.InvalidArgument].sort());
  });

  it("race: one challenge with two good recovery codes at once, exactly one wins and the loser's code stays unused", async () => {
    const user = await enrolledUser();
    const challenge = await loginChallenge(auth(), user.email, user.password);
    const outcomes = await Promise.all(user.recoveryCodes.slice(2, 4).map((c) => codeOf(mfa().verifyMfa({ challenge, recoveryCode: c }))));
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
    expect(outcomes.filter((o) => o !== "ok")).toEqual([Code.NotFound]);
    const again = await loginChallenge(auth(), user.email, user.password);
    const { tokens } = await mfa().verifyMfa({ challenge: again, code: codeAt(user.key, now()) });
    expect((await mfa(tokens!.accessToken).getMfaStatus({})).recoveryCodesRemaining).toBe(9);
  });

  it("DisableTotp needs the password and a current code; RegenerateRecoveryCodes needs a code and ends the old codes", async () => {
    const user = await enrolledUser();
    const m = mfa(user.accessToken);
    const regenerated = await m.regenerateRecoveryCodes({ code: codeAt(user.key, now()) });
    expect(regenerated.recoveryCodes).toHaveLength(10);
    expect(regenerated.recoveryCodes).not.toContain(user.recoveryCodes[0]);
    await expectCode(m.regenerateRecoveryCodes({ code: "123456" === codeAt(user.key, now()) ? "654321" : "123456" }), Code.InvalidArgument);
    const old = await loginChallenge(auth(), user.email, user.password);
    await expectCode(mfa().verifyMfa({ challenge: old, recoveryCode: user.recoveryCodes[0]! }), Code.InvalidArgument);

    t.clock.advance(30);
    await expectCode(m.disableTotp({ password: "not the password at all", code: codeAt(user.key, now()) }), Code.InvalidArgument, /password/);
    await expectCode(m.disableTotp({ password: user.password, code: "" }), Code.InvalidArgument, /code/);
    await expectCode(m.disableTotp({ password: user.password, code: codeAt(user.key, now(), -3) }), Code.InvalidArgument, /wrong code/);
    expect((await m.getMfaStatus({})).totpEnabled).toBe(true);
    await m.disableTotp({ password: user.password, code: codeAt(user.key, now()) });
    expect(await m.getMfaStatus({})).toMatchObject({ totpEnabled: false, recoveryCodesRemaining: 0 });
    expect((await auth().login({ email: user.email, password: user.password })).tokens?.accessToken).toBeTruthy();
    await sink.waitFor((m) => m.to === user.email && m.subject === "Two-step sign-in was turned off");
    await t.server.app.deps.audit.flush();
    const actions = await t.database.db.kysely.selectFrom("audit_events").select("action").where("actor_user_id", "=", user.userId).execute();
    expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(["mfa.enabled", "mfa.disabled", "mfa.recovery_codes.regenerated", "mfa.failed"]));
  });

  it("lost device: DisableTotp with the password and a recovery code instead of the code, then enrolling again works", async () => {
    const user = await enrolledUser();
    const challenge = await loginChallenge(auth(), user.email, user.password);
    const { tokens } = await mfa().verifyMfa({ challenge, recoveryCode: user.recoveryCodes[0]! });
    const m = mfa(tokens!.accessToken);
    await expectCode(m.disableTotp({ password: user.password }), Code.InvalidArgument, /code is required/);
    await expectCode(m.disableTotp({ password: user.password, recoveryCode: user.recoveryCodes[0]! }), Code.InvalidArgument, /wrong recovery code/);
    await m.disableTotp({ password: user.password, recoveryCode: user.recoveryCodes[1]! });
    expect((await m.getMfaStatus({})).totpEnabled).toBe(false);
    const again = await enrolTotp(m, now, user.password);
    expect(again.secret).not.toBe(user.secret);
  });

  it("ResetUserMfa: an instance admin removes the second factor of a user who lost it; others are refused; the user is told", async () => {
    const user = await enrolledUser();
    const admin = await t.signUp();
    await expectCode(mfa(admin.accessToken).resetUserMfa({ userId: user.userId }), Code.PermissionDenied);
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    await mfa(admin.accessToken).resetUserMfa({ userId: user.userId });
    await expectCode(mfa(admin.accessToken).resetUserMfa({ userId: user.userId }), Code.FailedPrecondition);
    expect((await auth().login({ email: user.email, password: user.password })).tokens?.accessToken).toBeTruthy();
    await sink.waitFor((m) => m.to === user.email && m.subject === "Two-step sign-in was turned off");
    await t.server.app.deps.audit.flush();
    const reset = await t.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "mfa.reset")
      .where("actor_user_id", "=", admin.userId)
      .execute();
    expect(reset.map((r) => (r.metadata as Record<string, unknown>).user_id)).toEqual([user.userId]);
  });

  it("stores TOTP secrets encrypted and recovery codes hashed: no secret in the database, the logs or the audit trail", async () => {
    const user = await enrolledUser();
    const challenge = await loginChallenge(auth(), user.email, user.password);
    await mfa().verifyMfa({ challenge, recoveryCode: user.recoveryCodes[0]! });
    const db = t.database.db.kysely;
    const row = await db.selectFrom("user_totp").selectAll().where("user_id", "=", user.userId).executeTakeFirstOrThrow();
    expect(row.secret_ciphertext).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(row.secret_ciphertext).not.toContain(user.secret);
    expect(row.secret_ciphertext).not.toContain(user.key.toString("hex"));
    expect(row.secret_ciphertext).not.toContain(user.key.toString("base64url"));
    const codes = await db.selectFrom("mfa_recovery_codes").select("code_hash").where("user_id", "=", user.userId).execute();
    const stored = JSON.stringify(codes);
    for (const c of user.recoveryCodes) expect(stored).not.toContain(c.replace("-", ""));
    const challengeRow = JSON.stringify(await db.selectFrom("mfa_challenges").selectAll().where("user_id", "=", user.userId).execute());
    expect(challengeRow).not.toContain(challenge);
    await t.server.app.deps.audit.flush();
    const audit = JSON.stringify(await db.selectFrom("audit_events").selectAll().where("actor_user_id", "=", user.userId).execute());
    const logs = t.logs.join("\n");
    for (const secret of [user.secret, challenge, ...user.recoveryCodes, KEY]) {
      expect(logs).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  });

  it("fails closed under another MFA_ENCRYPTION_KEY, and opens old secrets with MFA_ENCRYPTION_KEY_PREVIOUS after a rotation", async () => {
    const user = await enrolledUser();
    const base = { AUTH_MODE: "full", SMTP_URL: sink.url, SMTP_FROM: "auth@example.test" };
    const other = await t.startServer({ env: { ...base, MFA_ENCRYPTION_KEY: randomBytes(32).toString("hex") } });
    const otherAuth = t.clientOf(other, AuthService);
    const c1 = await loginChallenge(otherAuth, user.email, user.password);
    await expectCode(t.clientOf(other, MfaService).verifyMfa({ challenge: c1, code: codeAt(user.key, now()) }), Code.FailedPrecondition, /cannot be opened/);
    await expectCode(t.clientOf(other, MfaService).verifyMfa({ challenge: c1, recoveryCode: user.recoveryCodes[0]! }), Code.InvalidArgument);
    await other.close();

    const rotated = await t.startServer({ env: { ...base, MFA_ENCRYPTION_KEY: randomBytes(32).toString("hex"), MFA_ENCRYPTION_KEY_PREVIOUS: KEY } });
    const c2 = await loginChallenge(t.clientOf(rotated, AuthService), user.email, user.password);
    expect(await codeOf(t.clientOf(rotated, MfaService).verifyMfa({ challenge: c2, code: codeAt(user.key, now()) }))).toBe("ok");
    const c3 = await loginChallenge(t.clientOf(rotated, AuthService), user.email, user.password);
    expect(await codeOf(t.clientOf(rotated, MfaService).verifyMfa({ challenge: c3, recoveryCode: user.recoveryCodes[1]! }))).toBe("ok");
    await rotated.close();
  });
});
