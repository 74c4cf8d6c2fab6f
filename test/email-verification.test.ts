/**
 * Email verification (issue 18), on PostgreSQL and PGlite, with mail captured by a real
 * SMTP server: sign-up mails a link (256-bit token, SHA-256 at rest, single-use, 24 h);
 * VerifyEmail; ResendVerification (throttled); AUTH_REQUIRE_VERIFIED_EMAIL (no tokens
 * at sign-up, the same answer for a taken email, Login refused until verified); invites
 * accept only verified emails, password users too.
 */
import { createHash, randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { AccountRecoveryService } from "../packages/sdk/src/gen/tessera/v1/account_recovery_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { EMAIL_UNVERIFIED } from "../packages/server/src/services/auth/password.js";
import { DB_KINDS, linkToken, useSmtpSink, useTessera, type TestServer } from "./harness.js";
import { codeOf, expectCode } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const uniqueEmail = (tag = "v") => `${tag}-${randomBytes(5).toString("hex")}@example.com`;

describe.each(DB_KINDS)("email verification on %s", (kind) => {
  const sink = useSmtpSink();
  const mailEnv = () => ({ AUTH_MODE: "full", SMTP_URL: sink.url, SMTP_FROM: "auth@example.test", TESSERA_APP_URL: "https://app.example.test" });
  // The harness's server requires verified emails; `open` (same database) does not.
  const t = useTessera({ db: kind, env: () => ({ ...mailEnv(), AUTH_REQUIRE_VERIFIED_EMAIL: "true" }), forwardedFor: true });
  let open: TestServer;
  beforeAll(async () => {
    open = await t.startServer({ env: mailEnv() });
  });
  const recovery = () => t.client(AccountRecoveryService);
  const auth = () => t.client(AuthService);
  const verifyMailTo = (email: string) => sink.waitFor((m) => m.to === email && m.subject === "Confirm your email address");

  it("mails a verification link at sign-up; the token is 256 bits, stored only as its SHA-256, and works once", async () => {
    const email = uniqueEmail();
    const up = await t.clientOf(open, AuthService).signUp({ email, password: PASSWORD });
    expect(up.tokens?.accessToken).toBeTruthy();
    expect(up.verificationRequired).toBe(false);
    const mail = await verifyMailTo(email);
    expect(mail.text).toMatch(/https:\/\/app\.example\.test\/verify-email\?token=/);
    const token = linkToken(mail, "/verify-email");
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    const rows = await t.database.db.kysely.selectFrom("email_tokens").selectAll().where("user_id", "=", up.tokens!.userId).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(createHash("sha256").update(token).digest("hex"));
    expect(JSON.stringify(rows)).not.toContain(token);

    await recovery().verifyEmail({ token });
    const user = await t.database.db.kysely.selectFrom("users").select("email_verified_at").where("id", "=", up.tokens!.userId).executeTakeFirstOrThrow();
    expect(user.email_verified_at).not.toBeNull();
    await expectCode(recovery().verifyEmail({ token }), Code.InvalidArgument, /invalid, used or expired/);
    await expectCode(recovery().verifyEmail({ token: "not-a-token" }), Code.InvalidArgument, /invalid, used or expired/);
  });

  it("AUTH_REQUIRE_VERIFIED_EMAIL: sign-up answers without tokens, Login refuses the right password until the link is followed, then signs in", async () => {
    const email = uniqueEmail();
    const up = await auth().signUp({ email, password: PASSWORD });
    expect(up.tokens).toBeUndefined();
    expect(up.verificationRequired).toBe(true);
    await expectCode(auth().login({ email, password: PASSWORD }), Code.FailedPrecondition, EMAIL_UNVERIFIED);
    // A wrong password still gets the one generic answer: the refusal above needs the password.
    await expectCode(auth().login({ email, password: "not the password at all" }), Code.Unauthenticated, "invalid email or password");
    await recovery().verifyEmail({ token: linkToken(await verifyMailTo(email), "/verify-email") });
    const login = await auth().login({ email, password: PASSWORD });
    expect(login.tokens?.accessToken).toBeTruthy();
    // The personal account was made at verification.
    const accounts = await t.client(UserAccountService, { token: login.tokens!.accessToken }).getUserAccounts({});
    expect(accounts.accounts.some((a) => a.type === 1 || a.name === "personal")).toBe(true);
  });

  it("AUTH_REQUIRE_VERIFIED_EMAIL: a taken email answers exactly like a new one, and its owner is told by mail", async () => {
    const taken = uniqueEmail("taken");
    await auth().signUp({ email: taken, password: PASSWORD });
    const fresh = await auth().signUp({ email: uniqueEmail("fresh"), password: PASSWORD });
    const again = await auth().signUp({ email: taken.toUpperCase(), password: "another long password 42" });
    expect(again).toEqual(fresh);
    const notice = await sink.waitFor((m) => m.to.toLowerCase() === taken.toLowerCase() && m.subject === "Someone tried to sign up with your email address");
    expect(notice.text).toContain("https://app.example.test/forgot-password");
    expect(notice.text).not.toMatch(/token=/);
    // Without the setting, sign-up signs in at once, so a taken email cannot be answered alike: AlreadyExists.
    await expectCode(t.clientOf(open, AuthService).signUp({ email: taken, password: PASSWORD }), Code.AlreadyExists);
  });

  it("ResendVerification answers the same for every email, mails only unverified password users, at most once a minute", async () => {
    const email = uniqueEmail("resend");
    await auth().signUp({ email, password: PASSWORD });
    await verifyMailTo(email);
    const count = () => sink.mails.filter((m) => m.to === email).length;
    // Within the minute: nothing more is sent.
    expect(await recovery().resendVerification({ email })).toEqual(await recovery().resendVerification({ email: uniqueEmail("nobody") }));
    await t.server.app.mailer.idle();
    expect(count()).toBe(1);
    t.clock.advance(61);
    await recovery().resendVerification({ email });
    await t.server.app.mailer.idle();
    await sink.waitFor(() => count() === 2);
    // The newer link works, and so does the older one (verification links are not superseded).
    const links = sink.mails.filter((m) => m.to === email).map((m) => linkToken(m, "/verify-email"));
    await recovery().verifyEmail({ token: links[1]! });
    // Verified now: a resend mails nothing.
    t.clock.advance(61);
    await recovery().resendVerification({ email });
    await t.server.app.mailer.idle();
    expect(count()).toBe(2);
  });

  it("a verification link expires after 24 hours", async () => {
    const email = uniqueEmail("late");
    await auth().signUp({ email, password: PASSWORD });
    const token = linkToken(await verifyMailTo(email), "/verify-email");
    t.clock.advance(24 * 3600 + 1);
    await expectCode(recovery().verifyEmail({ token }), Code.InvalidArgument);
  });

  it("race: two verifications with one token, exactly one succeeds", async () => {
    const email = uniqueEmail("race");
    await auth().signUp({ email, password: PASSWORD });
    const token = linkToken(await verifyMailTo(email), "/verify-email");
    const codes = await Promise.all([codeOf(recovery().verifyEmail({ token })), codeOf(recovery().verifyEmail({ token }))]);
    expect(codes.sort()).toEqual([Code.InvalidArgument, "ok"].sort());
  });

  it("invites accept only a verified email, password users too", async () => {
    const admin = await t.signUp({ server: open });
    const team = (await t.clientOf(open, UserAccountService, { token: admin.accessToken }).createTeamAccount({ name: "Verified only" })).account!.id;
    const invitee = uniqueEmail("invitee");
    const up = await t.clientOf(open, AuthService).signUp({ email: invitee, password: PASSWORD });
    const invite = await t.clientOf(open, UserAccountService, { token: admin.accessToken }).inviteUserToTeamAccount({ accountId: team, email: invitee });
    const asInvitee = t.clientOf(open, UserAccountService, { token: up.tokens!.accessToken });
    await expectCode(asInvitee.acceptTeamAccountInvite({ token: invite.token }), Code.PermissionDenied, /verified email address/);
    await recovery().verifyEmail({ token: linkToken(await verifyMailTo(invitee), "/verify-email") });
    await asInvitee.acceptTeamAccountInvite({ token: invite.token });
  });

  it("audits verification without the token, and writes no link to the log when SMTP is configured", async () => {
    await t.server.app.deps.audit.flush();
    const rows = await t.database.db.kysely.selectFrom("audit_events").select(["action", "metadata"]).where("action", "like", "auth.email_verify.%").execute();
    expect(rows.map((r) => r.action)).toContain("auth.email_verify.success");
    expect(rows.map((r) => r.action)).toContain("auth.email_verify.failure");
    const tokens = sink.mails.flatMap((m) => [...m.text.matchAll(/token=([A-Za-z0-9_-]{43})/g)].map((x) => x[1]!));
    expect(tokens.length).toBeGreaterThan(3);
    const logs = [...t.logs, ...open.logs].join("\n");
    for (const token of tokens) {
      expect(logs).not.toContain(token);
      expect(JSON.stringify(rows)).not.toContain(token);
    }
  });
});
