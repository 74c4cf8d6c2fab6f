/**
 * Findings of the security review of the second factor (issue 18), on PostgreSQL and PGlite.
 */
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ApiKeyService } from "../../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { DeviceLoginService, DeviceLoginStatus } from "../../packages/sdk/src/gen/tessera/v1/device_pb.js";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { MfaService } from "../../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import { RevocationService } from "../../packages/sdk/src/gen/tessera/v1/revocation_pb.js";
import { UserAccountService } from "../../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { createMfaKeys } from "../../packages/server/src/auth/mfa/secret-box.js";
import { DB_KINDS, useTessera, useTestProvider } from "../harness.js";
import { codeAt, enrolTotp, loginChallenge } from "../helpers/mfa.js";
import { pkce, serverEnvFor } from "../helpers/oidc-provider.js";
import { codeOf, expectCode } from "../helpers/outcome.js";

const KEY = randomBytes(32).toString("hex");

describe.each(DB_KINDS)("MFA review findings on %s", (kind) => {
  // Admins need a second factor; API-key creation as such does not (the default).
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full", MFA_ENCRYPTION_KEY: KEY, AUTH_REQUIRE_MFA_FOR_ADMINS: "true" }, forwardedFor: true });
  const now = () => t.clock.now();

  it("finding: an instance admin at level 1 mints an API key that calls instance-admin procedures without a second factor", async () => {
    const admin = await t.signUp();
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    const accountId = (await t.client(UserAccountService, { token: admin.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const keys = (token: string) => t.client(ApiKeyService, { token });
    const expiresAt = timestampFromDate(new Date(Date.now() + 86400_000));
    const create = (token: string) =>
      keys(token).createAccountApiKey({ accountId, name: `k-${randomBytes(3).toString("hex")}`, scopes: ["revocations:watch"], expiresAt });
    // The instance-admin procedure itself is refused at level 1 ...
    await expectCode(t.client(RevocationService, { token: admin.accessToken }).getRevocationStatus({ sequence: 0n }), Code.PermissionDenied, /second factor/);
    // ... and so is a key that would carry the same power (keys follow their creator: instance_admin_or_admin_key).
    await expectCode(create(admin.accessToken), Code.PermissionDenied, /second factor/);

    const enrolled = await enrolTotp(t.client(MfaService, { token: admin.accessToken }), now, admin.password);
    t.clock.advance(30);
    const challenge = await loginChallenge(t.client(AuthService), admin.email, admin.password);
    const { tokens } = await t.client(MfaService).verifyMfa({ challenge, code: codeAt(enrolled.key, now()) });
    const made = await create(tokens!.accessToken);
    expect((await t.client(RevocationService, { token: made.keyValue }).getRevocationStatus({ sequence: 0n })).appliedEverywhere).toBe(true);
    // Regenerating that key's value at level 1 hands out the same power: refused too.
    await expectCode(keys(admin.accessToken).regenerateAccountApiKey({ id: made.apiKey!.id, expiresAt }), Code.PermissionDenied, /second factor/);
    expect(await codeOf(keys(tokens!.accessToken).regenerateAccountApiKey({ id: made.apiKey!.id, expiresAt }))).toBe("ok");
  });

  it("finding: a sign-in waiting for its code outlives a password change and the revocation of every session", async () => {
    const user = await t.signUp();
    const enrolled = await enrolTotp(t.client(MfaService, { token: user.accessToken }), now, user.password);
    t.clock.advance(30);
    // Someone with the password starts a sign-in; the owner changes the password meanwhile.
    const pending = await loginChallenge(t.client(AuthService), user.email, user.password);
    const newPassword = `${user.password}-changed`;
    await t.client(AuthService, { token: user.accessToken }).changePassword({ currentPassword: user.password, newPassword });
    await expectCode(t.client(MfaService).verifyMfa({ challenge: pending, code: codeAt(enrolled.key, now()) }), Code.NotFound);
    // Also when the other sessions are kept (keep_other_sessions).
    const kept = await loginChallenge(t.client(AuthService), user.email, newPassword);
    const newest = `${newPassword}-again`;
    await t.client(AuthService, { token: user.accessToken }).changePassword({ currentPassword: newPassword, newPassword: newest, keepOtherSessions: true });
    await expectCode(t.client(MfaService).verifyMfa({ challenge: kept, code: codeAt(enrolled.key, now()) }), Code.NotFound);
    t.clock.advance(30);
    // The same after RevokeAllSessions (the owner's "sign out everywhere").
    const second = await loginChallenge(t.client(AuthService), user.email, newest);
    const own = await t.client(MfaService).verifyMfa({ challenge: second, code: codeAt(enrolled.key, now()) });
    t.clock.advance(30);
    const third = await loginChallenge(t.client(AuthService), user.email, newest);
    await t.client(AuthService, { token: own.tokens!.accessToken }).revokeAllSessions({});
    await expectCode(t.client(MfaService).verifyMfa({ challenge: third, code: codeAt(enrolled.key, now()) }), Code.NotFound);
    // A sign-in started afterwards completes.
    const fourth = await loginChallenge(t.client(AuthService), user.email, newest);
    expect((await t.client(MfaService).verifyMfa({ challenge: fourth, code: codeAt(enrolled.key, now()) })).tokens).toBeDefined();
  });

  it("finding: a stolen session turns on TOTP without the password", async () => {
    const user = await t.signUp();
    // The thief holds the owner's token but not the password: no secret is handed out.
    const stolen = t.client(MfaService, { token: user.accessToken });
    await expectCode(stolen.startTotpEnrollment({}), Code.InvalidArgument, /password is required/);
    const wrong = await stolen.startTotpEnrollment({ password: `${user.password}-not` }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The same answer as ChangePassword gives for a wrong current password.
    const changeWrong = await t
      .client(AuthService, { token: user.accessToken })
      .changePassword({ currentPassword: `${user.password}-not`, newPassword: `${user.password}-changed` })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(wrong).toBeInstanceOf(Error);
    expect(String(wrong)).toBe(String(changeWrong));
    expect(String(wrong)).toMatch(/invalid_argument.*current password is incorrect/);
    expect((await stolen.getMfaStatus({})).totpEnabled).toBe(false);
    const pending = await t.database.db.kysely.selectFrom("user_totp").selectAll().where("user_id", "=", user.userId).execute();
    expect(pending).toEqual([]);
    await t.server.app.deps.audit.flush();
    const refused = await t.database.db.kysely
      .selectFrom("audit_events")
      .select("metadata")
      .where("action", "=", "mfa.failed")
      .where("actor_user_id", "=", user.userId)
      .execute();
    expect(refused.map((r) => r.metadata)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ during: "enrolment", reason: "missing_password" }),
        expect.objectContaining({ during: "enrolment", reason: "wrong_password" }),
      ]),
    );
    // The owner, who knows the password, enrols.
    const enrolled = await enrolTotp(stolen, now, user.password);
    expect(enrolled.recoveryCodes).toHaveLength(10);
  });

  it("an ordinary user's API keys need no second factor when only AUTH_REQUIRE_MFA_FOR_ADMINS is on", async () => {
    const user = await t.signUp();
    const accountId = (await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const made = await codeOf(
      t
        .client(ApiKeyService, { token: user.accessToken })
        .createAccountApiKey({ accountId, name: "plain", expiresAt: timestampFromDate(new Date(Date.now() + 86400_000)) }),
    );
    expect(made).toBe("ok");
  });
});

describe.each(DB_KINDS)("MFA review findings with a provider on %s", (kind) => {
  const provider = useTestProvider();
  const redirect = () => `http://127.0.0.1:${provider.port}/cb`;
  const t = useTessera({ db: kind, env: () => ({ ...serverEnvFor(provider, redirect()), MFA_ENCRYPTION_KEY: KEY }), forwardedFor: true });
  const now = () => t.clock.now();

  it("finding: a provider's access token of a user with TOTP approves a device login: a Tessera session without the second factor", async () => {
    const subject = `mfa-dev-${randomBytes(3).toString("hex")}`;
    const client = t.client(AuthService);
    const p = pkce();
    const state = randomBytes(16).toString("base64url");
    const { url } = await client.getAuthorizeUrl({ redirectUri: redirect(), state, codeChallenge: p.challenge });
    const r = await provider.authorize(url, subject);
    const first = await client.exchangeCode({ code: r.code, redirectUri: redirect(), codeVerifier: p.verifier, state, iss: r.iss ?? "" });
    await enrolTotp(t.client(MfaService, { token: first.tokens!.accessToken }), now, "");
    // AUTH_MFA_FOR_PROVIDER_LOGINS (default on): the provider alone no longer signs this user in to Tessera ...
    const bearer = await provider.accessTokenFor(subject);
    const ip = t.freshIp();
    const started = await t.client(DeviceLoginService, { ip }).startDeviceLogin({ clientName: "terminal" });
    // ... so its access token must not approve a device login (which ends in Tessera tokens) either.
    await expectCode(
      t.client(DeviceLoginService, { token: bearer }).approveDeviceLogin({ userCode: started.userCode }),
      Code.PermissionDenied,
      /second factor/,
    );
    t.clock.advance(10);
    const polled = await t.client(DeviceLoginService, { ip }).pollDeviceLogin({ deviceCode: started.deviceCode });
    expect(polled.status).not.toBe(DeviceLoginStatus.APPROVED);
    expect(polled.tokens).toBeUndefined();
    // A Tessera session of the same user approves.
    expect(await codeOf(t.client(DeviceLoginService, { token: first.tokens!.accessToken }).approveDeviceLogin({ userCode: started.userCode }))).toBe("ok");
  });
});

describe.each(DB_KINDS)("MFA enrolment of a provider-only user on %s", (kind) => {
  const provider = useTestProvider();
  const redirect = () => `http://127.0.0.1:${provider.port}/cb`;
  const t = useTessera({ db: kind, env: () => ({ ...serverEnvFor(provider, redirect()), MFA_ENCRYPTION_KEY: KEY }), forwardedFor: true });
  const now = () => t.clock.now();

  async function providerLogin(subject: string) {
    const client = t.client(AuthService);
    const p = pkce();
    const state = randomBytes(16).toString("base64url");
    const { url } = await client.getAuthorizeUrl({ redirectUri: redirect(), state, codeChallenge: p.challenge });
    const r = await provider.authorize(url, subject);
    return client.exchangeCode({ code: r.code, redirectUri: redirect(), codeVerifier: p.verifier, state, iss: r.iss ?? "" });
  }

  it("finding: a stolen session turns on TOTP without the password (provider-only: an old session is refused, a fresh sign-in works)", async () => {
    const subject = `mfa-old-${randomBytes(3).toString("hex")}`;
    const old = await providerLogin(subject);
    // 16 minutes later the (refreshed) session is still open but its sign-in is too old.
    t.clock.advance(16 * 60);
    const refreshed = await t.client(AuthService).refreshToken({ refreshToken: old.tokens!.refreshToken });
    const stolen = t.client(MfaService, { token: refreshed.tokens!.accessToken });
    await expectCode(stolen.startTotpEnrollment({}), Code.PermissionDenied, /sign in again to turn on two-step sign-in/);
    expect((await stolen.getMfaStatus({})).totpEnabled).toBe(false);
    // A password is no way around it (the user has none).
    await expectCode(stolen.startTotpEnrollment({ password: "anything at all 123" }), Code.PermissionDenied, /sign in again/);
    // A fresh sign-in enrols.
    const fresh = await providerLogin(subject);
    const enrolled = await enrolTotp(t.client(MfaService, { token: fresh.tokens!.accessToken }), now, "");
    expect(enrolled.recoveryCodes).toHaveLength(10);
  });
});

describe("MFA secret box", () => {
  it("finding: a TOTP secret opens with its GCM tag cut to 4 bytes (forgery odds 2^-32 instead of 2^-128)", () => {
    const keys = createMfaKeys(randomBytes(32));
    const sealed = keys.seal(Buffer.from("12345678901234567890"), "user-a");
    expect(keys.open(sealed, "user-a")?.toString()).toBe("12345678901234567890");
    const parts = sealed.split(".");
    const tag = Buffer.from(parts[4]!, "base64url");
    for (const n of [4, 8, 12, 15]) {
      const cut = [...parts.slice(0, 4), tag.subarray(0, n).toString("base64url")].join(".");
      expect(keys.open(cut, "user-a"), `a ${n}-byte tag`).toBeUndefined();
    }
  });
});
