/**
 * Password reset (issue 18), on PostgreSQL and PGlite, with mail captured by a real SMTP
 * server: RequestPasswordReset answers the same for every email and mails only enabled
 * password users (256-bit link, SHA-256 at rest, single-use, 30 minutes, only the newest);
 * ResetPassword applies the password policy, ends every session, ends the other links,
 * tells the user by mail, is audited, and does not sign in. Limits per email and network.
 */
import { createHash, randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AccountRecoveryService } from "../packages/sdk/src/gen/tessera/v1/account_recovery_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { DB_KINDS, linkToken, useSmtpSink, useTessera } from "./harness.js";
import { callAs } from "./helpers/abuse.js";
import { codeOf, expectCode } from "./helpers/outcome.js";
import { msUntilRejected } from "./helpers/server.js";

const NEW_PASSWORD = "a brand new passphrase 2026";
const uniqueEmail = (tag = "r") => `${tag}-${randomBytes(5).toString("hex")}@example.com`;

describe.each(DB_KINDS)("password reset on %s", (kind) => {
  const sink = useSmtpSink();
  const t = useTessera({
    db: kind,
    env: () => ({ AUTH_MODE: "full", SMTP_URL: sink.url, SMTP_FROM: "auth@example.test", TESSERA_APP_URL: "https://app.example.test" }),
    forwardedFor: true,
  });
  const recovery = () => t.client(AccountRecoveryService);
  const auth = () => t.client(AuthService);
  const resetMails = (email: string) => sink.mails.filter((m) => m.to === email && m.subject === "Reset your password");
  const resetLink = async (email: string, n = 1) => {
    await sink.waitFor(() => resetMails(email).length >= n);
    return linkToken(resetMails(email)[n - 1]!, "/reset-password");
  };

  it("forgot → mail → reset: the new password works, the old one and every session end, the user is told, nobody is signed in", async () => {
    const user = await t.signUp();
    const other = await auth().login({ email: user.email, password: user.password });
    expect(await recovery().requestPasswordReset({ email: user.email })).toEqual({ $typeName: "tessera.v1.RequestPasswordResetResponse" });
    const token = await resetLink(user.email);
    expect(resetMails(user.email)[0]!.text).toContain(`https://app.example.test/reset-password?token=${token}`);
    const rows = await t.database.db.kysely
      .selectFrom("email_tokens")
      .selectAll()
      .where("user_id", "=", user.userId)
      .where("purpose", "=", "password_reset")
      .execute();
    expect(rows.map((r) => r.token_hash)).toEqual([createHash("sha256").update(token).digest("hex")]);
    expect(rows[0]!.expires_at.getTime() - rows[0]!.created_at.getTime()).toBe(30 * 60_000);

    const res = await recovery().resetPassword({ token, newPassword: NEW_PASSWORD });
    expect(res.revocationSequence).toBeGreaterThan(0n);
    expect(Object.keys(res)).not.toContain("tokens");
    // Every session is dead: access tokens (through the revocation log) and refresh tokens.
    expect(await msUntilRejected(t.server, user.accessToken)).toBeLessThan(3000);
    expect(await msUntilRejected(t.server, other.tokens!.accessToken)).toBeLessThan(3000);
    await expectCode(auth().refreshToken({ refreshToken: user.refreshToken }), Code.Unauthenticated);
    await expectCode(auth().login({ email: user.email, password: user.password }), Code.Unauthenticated);
    expect((await auth().login({ email: user.email, password: NEW_PASSWORD })).tokens?.accessToken).toBeTruthy();
    const notice = await sink.waitFor((m) => m.to === user.email && m.subject === "Your password was reset");
    expect(notice.text).not.toMatch(/token=/);
    // Single use.
    await expectCode(recovery().resetPassword({ token, newPassword: "yet another passphrase 99" }), Code.InvalidArgument, /invalid, used or expired/);
  });

  it("answers the same for a known, unknown, disabled and provider-only email, and mails only the known enabled password user", async () => {
    const known = await t.signUp();
    const disabled = await t.signUp();
    const db = t.database.db.kysely;
    await db.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", disabled.userId).execute();
    const providerOnly = uniqueEmail("sso");
    await db.insertInto("users").values({ kind: "human", email: providerOnly, email_normalized: providerOnly, name: null, password_hash: null }).execute();
    const unknown = uniqueEmail("nobody");
    const answers = [];
    for (const email of [known.email, unknown, disabled.email, providerOnly]) answers.push(await recovery().requestPasswordReset({ email }));
    for (const a of answers) expect(a).toEqual(answers[0]);
    await t.server.app.mailer.idle();
    await resetLink(known.email);
    expect(sink.mails.filter((m) => [unknown, disabled.email, providerOnly].includes(m.to) && m.subject === "Reset your password")).toEqual([]);
  });

  it("only the newest link works, a link ends after 30 minutes, and a reset ends the other links", async () => {
    const user = await t.signUp();
    await recovery().requestPasswordReset({ email: user.email });
    const first = await resetLink(user.email, 1);
    await recovery().requestPasswordReset({ email: user.email });
    const second = await resetLink(user.email, 2);
    await expectCode(recovery().resetPassword({ token: first, newPassword: NEW_PASSWORD }), Code.InvalidArgument);
    t.clock.advance(30 * 60 + 1);
    await expectCode(recovery().resetPassword({ token: second, newPassword: NEW_PASSWORD }), Code.InvalidArgument);
    await recovery().requestPasswordReset({ email: user.email });
    const third = await resetLink(user.email, 3);
    await recovery().resetPassword({ token: third, newPassword: NEW_PASSWORD });
    const open = await t.database.db.kysely
      .selectFrom("email_tokens")
      .select("id")
      .where("user_id", "=", user.userId)
      .where("used_at", "is", null)
      .where("purpose", "=", "password_reset")
      .execute();
    expect(open).toEqual([]);
  });

  it("applies the password policy and keeps the link usable after a refused password", async () => {
    const user = await t.signUp();
    await recovery().requestPasswordReset({ email: user.email });
    const token = await resetLink(user.email);
    await expectCode(recovery().resetPassword({ token, newPassword: "short" }), Code.InvalidArgument);
    await expectCode(recovery().resetPassword({ token, newPassword: "password1234" }), Code.InvalidArgument, /^password is too weak/);
    await recovery().resetPassword({ token, newPassword: NEW_PASSWORD });
  });

  it("race: two resets with one token, exactly one succeeds", async () => {
    const user = await t.signUp();
    await recovery().requestPasswordReset({ email: user.email });
    const token = await resetLink(user.email);
    const codes = await Promise.all([
      codeOf(recovery().resetPassword({ token, newPassword: NEW_PASSWORD })),
      codeOf(recovery().resetPassword({ token, newPassword: "the other new passphrase 7" })),
    ]);
    expect(codes.sort()).toEqual([Code.InvalidArgument, "ok"].sort());
  });

  it("limits RequestPasswordReset to 5 an hour per email (registered or not) and 5 a minute per network", async () => {
    const email = uniqueEmail("flood");
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await callAs(t.server, "RequestPasswordReset", { email }, `198.51.100.${30 + i}`, "AccountRecoveryService")).code);
    expect(codes).toEqual(["ok", "ok", "ok", "ok", "ok", "resource_exhausted"]);
    const ip = "198.51.100.60";
    const byIp = [];
    for (let i = 0; i < 6; i++) byIp.push((await callAs(t.server, "RequestPasswordReset", { email: uniqueEmail() }, ip, "AccountRecoveryService")).code);
    expect(byIp).toEqual(["ok", "ok", "ok", "ok", "ok", "resource_exhausted"]);
  });

  it("audits requests and resets, and no reset token reaches the logs or the audit trail", async () => {
    await t.server.app.deps.audit.flush();
    const rows = await t.database.db.kysely.selectFrom("audit_events").select(["action", "metadata"]).where("action", "like", "auth.password_reset%").execute();
    const actions = new Set(rows.map((r) => r.action));
    expect(actions).toEqual(new Set(["auth.password_reset_request.success", "auth.password_reset.success", "auth.password_reset.failure"]));
    const tokens = sink.mails.flatMap((m) => [...m.text.matchAll(/token=([A-Za-z0-9_-]{43})/g)].map((x) => x[1]!));
    expect(tokens.length).toBeGreaterThan(5);
    const logs = t.logs.join("\n");
    const audit = JSON.stringify(rows);
    for (const token of tokens) {
      expect(logs).not.toContain(token);
      expect(audit).not.toContain(token);
    }
    expect(logs).not.toContain(NEW_PASSWORD);
  });
});
