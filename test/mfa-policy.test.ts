/**
 * What the second factor changes beyond password sign-in (issue 18), on PostgreSQL and
 * PGlite: AUTH_REQUIRE_MFA_FOR_ADMINS (instance-admin and account-admin procedures need
 * a session at assurance level 2), AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION, provider logins
 * of a user with TOTP (a challenge, or `fed` tokens when AUTH_MFA_FOR_PROVIDER_LOGINS is
 * off), and where the encryption key comes from when none is configured.
 */
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { DeviceLoginService, DeviceLoginStatus } from "../packages/sdk/src/gen/tessera/v1/device_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { MfaService } from "../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { MFA_KEY_FILE_NAME } from "../packages/server/src/auth/mfa/key-file.js";
import { loadConfig } from "../packages/server/src/config/config.js";
import { DB_KINDS, useTessera, useTestProvider } from "./harness.js";
import { codeAt, enrolTotp, loginChallenge } from "./helpers/mfa.js";
import { pkce, serverEnvFor } from "./helpers/oidc-provider.js";
import { codeOf, expectCode } from "./helpers/outcome.js";

const KEY = randomBytes(32).toString("hex");

describe.each(DB_KINDS)("MFA policies on %s", (kind) => {
  const t = useTessera({
    db: kind,
    env: { AUTH_MODE: "full", MFA_ENCRYPTION_KEY: KEY, AUTH_REQUIRE_MFA_FOR_ADMINS: "true", AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION: "true" },
    forwardedFor: true,
  });
  const now = () => t.clock.now();

  it("AUTH_REQUIRE_MFA_FOR_ADMINS refuses an admin whose session is at level 1 and admits one at level 2", async () => {
    const admin = await t.signUp();
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    const other = await t.signUp();
    const as = (token: string) => ({ auth: t.client(AuthService, { token }), accounts: t.client(UserAccountService, { token }) });
    const level1 = as(admin.accessToken);
    const personal = (await level1.accounts.getUserAccounts({})).accounts[0]!.id;
    // Procedures that need no admin work at level 1.
    expect(await codeOf(level1.accounts.getUser({}))).toBe("ok");
    await expectCode(level1.auth.revokeUserSessions({ userId: other.userId }), Code.PermissionDenied, /second factor/);
    await expectCode(level1.accounts.getAccountAuditEvents({ accountId: personal }), Code.PermissionDenied, /second factor/);

    const enrolled = await enrolTotp(t.client(MfaService, { token: admin.accessToken }), now, admin.password);
    t.clock.advance(30);
    const challenge = await loginChallenge(t.client(AuthService), admin.email, admin.password);
    const { tokens } = await t.client(MfaService).verifyMfa({ challenge, code: codeAt(enrolled.key, now()) });
    const level2 = as(tokens!.accessToken);
    expect(await codeOf(level2.auth.revokeUserSessions({ userId: other.userId }))).toBe("ok");
    expect(await codeOf(level2.accounts.getAccountAuditEvents({ accountId: personal }))).toBe("ok");
  });

  it("AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION refuses CreateAccountApiKey at level 1 and allows it at level 2", async () => {
    const user = await t.signUp();
    const accountId = (await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const create = (token: string) =>
      t
        .client(ApiKeyService, { token })
        .createAccountApiKey({ accountId, name: `k-${randomBytes(3).toString("hex")}`, expiresAt: timestampFromDate(new Date(Date.now() + 86400_000)) });
    await expectCode(create(user.accessToken), Code.PermissionDenied, /second factor/);
    const enrolled = await enrolTotp(t.client(MfaService, { token: user.accessToken }), now, user.password);
    t.clock.advance(30);
    const challenge = await loginChallenge(t.client(AuthService), user.email, user.password);
    const { tokens } = await t.client(MfaService).verifyMfa({ challenge, recoveryCode: enrolled.recoveryCodes[0]! });
    expect(await codeOf(create(tokens!.accessToken))).toBe("ok");
  });

  it("a device login approved from a level-2 session is a level-1 session without amr (RFC 8628 §5.4)", async () => {
    const user = await t.signUp();
    const enrolled = await enrolTotp(t.client(MfaService, { token: user.accessToken }), now, user.password);
    t.clock.advance(30);
    const challenge = await loginChallenge(t.client(AuthService), user.email, user.password);
    const { tokens } = await t.client(MfaService).verifyMfa({ challenge, code: codeAt(enrolled.key, now()) });
    const ip = t.freshIp();
    const device = t.client(DeviceLoginService, { ip });
    const started = await device.startDeviceLogin({ clientName: "terminal" });
    await t.client(DeviceLoginService, { token: tokens!.accessToken }).approveDeviceLogin({ userCode: started.userCode });
    t.clock.advance(10);
    const got = await t.client(DeviceLoginService, { ip }).pollDeviceLogin({ deviceCode: started.deviceCode });
    expect(got.status).toBe(DeviceLoginStatus.APPROVED);
    const checked = await t.client(AuthService, { token: got.tokens!.accessToken }).checkToken({});
    expect(checked.amr).toEqual([]);
    expect(checked.assuranceLevel).toBe(1);
  });

  it("without MFA_ENCRYPTION_KEY: the embedded database keeps a generated key (0600) in its data directory; PostgreSQL answers FailedPrecondition", async () => {
    const env = { AUTH_MODE: "full" };
    const server = await t.startServer({ env });
    const user = await t.signUp({ server });
    const started = await codeOf(t.clientOf(server, MfaService, { token: user.accessToken }).startTotpEnrollment({ password: user.password }));
    if (kind === "pglite") {
      expect(started).toBe("ok");
      const dataDir = (t.database.config as { dataDir: string }).dataDir;
      const file = path.join(dataDir, MFA_KEY_FILE_NAME);
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } else {
      await expectCode(
        t.clientOf(server, MfaService, { token: user.accessToken }).startTotpEnrollment({ password: user.password }),
        Code.FailedPrecondition,
        /MFA is not configured/,
      );
      expect(() => loadConfig({ ...t.database.env, AUTH_MODE: "full", AUTH_REQUIRE_MFA_FOR_ADMINS: "true" })).toThrow(/MFA_ENCRYPTION_KEY/);
    }
    await server.close();
  });
});

describe.each(DB_KINDS)("MFA at provider logins on %s", (kind) => {
  const provider = useTestProvider();
  const redirect = () => `http://127.0.0.1:${provider.port}/cb`;
  const t = useTessera({ db: kind, env: () => ({ ...serverEnvFor(provider, redirect()), MFA_ENCRYPTION_KEY: KEY }) });
  const now = () => t.clock.now();

  async function providerLogin(server = t.server, subject = "mfa-ida") {
    const client = t.clientOf(server, AuthService);
    const p = pkce();
    const state = randomBytes(16).toString("base64url");
    const { url } = await client.getAuthorizeUrl({ redirectUri: redirect(), state, codeChallenge: p.challenge });
    const r = await provider.authorize(url, subject);
    return client.exchangeCode({ code: r.code, redirectUri: redirect(), codeVerifier: p.verifier, state, iss: r.iss ?? "" });
  }

  it("a provider login of a user with TOTP answers a challenge; VerifyMfa gives amr fed, otp, level 2; AUTH_MFA_FOR_PROVIDER_LOGINS=false gives fed tokens", async () => {
    const first = await providerLogin();
    const plain = await t.client(AuthService, { token: first.tokens!.accessToken }).checkToken({});
    expect(plain.amr).toEqual(["fed"]);
    expect(plain.assuranceLevel).toBe(1);
    const enrolled = await enrolTotp(t.client(MfaService, { token: first.tokens!.accessToken }), now, "");
    t.clock.advance(30);

    const second = await providerLogin();
    expect(second.tokens).toBeUndefined();
    const { tokens } = await t.client(MfaService).verifyMfa({ challenge: second.mfaChallenge!.challenge, code: codeAt(enrolled.key, now()) });
    const checked = await t.client(AuthService, { token: tokens!.accessToken }).checkToken({});
    expect(checked.amr).toEqual(["fed", "otp", "mfa"]);
    expect(checked.assuranceLevel).toBe(2);

    const trusting = await t.startServer({ env: { ...serverEnvFor(provider, redirect()), MFA_ENCRYPTION_KEY: KEY, AUTH_MFA_FOR_PROVIDER_LOGINS: "false" } });
    const third = await providerLogin(trusting);
    expect(third.mfaChallenge).toBeUndefined();
    expect((await t.clientOf(trusting, AuthService, { token: third.tokens!.accessToken }).checkToken({})).amr).toEqual(["fed"]);
    await trusting.close();
  });
});
