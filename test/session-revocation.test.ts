/**
 * An ended session's access token is refused by Tessera itself, on every instance,
 * within a second (issue 16): not only its refresh token at once and the access token
 * at `exp`. Two instances with their own connections to one database; the session ends
 * on A, B had the token's answer cached.
 */
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { msUntilRejected } from "./helpers/server.js";
import { expectCode } from "./helpers/outcome.js";
import { DB_KINDS, useTessera } from "./harness.js";

describe("an ended session's access token, across instances on one PostgreSQL", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true, ownDatabase: true });
  const b = t.useServer({ ownDatabase: true });

  const warm = async (token: string) => expect((await t.clientOf(b, AuthService, { token }).checkToken({})).userId).toBeTruthy();

  it("logout on one instance: the other refuses the access token within a second", async () => {
    const user = await t.signUp();
    await warm(user.accessToken);
    await t.client(AuthService, { token: user.accessToken }).logout({ refreshToken: user.refreshToken });
    expect(await msUntilRejected(b, user.accessToken)).toBeLessThan(1000);
  });

  it("RevokeSession of another session: its access token is refused on both, the caller's keeps working", async () => {
    const user = await t.signUp();
    const second = (await t.client(AuthService).login({ email: user.email, password: user.password })).tokens!;
    await warm(second.accessToken);
    const sessions = (await t.client(AuthService, { token: user.accessToken }).listSessions({})).sessions;
    const other = sessions.find((s) => !s.current)!;
    await t.client(AuthService, { token: user.accessToken }).revokeSession({ id: other.id });
    expect(await msUntilRejected(b, second.accessToken)).toBeLessThan(1000);
    await expectCode(t.client(AuthService, { token: second.accessToken }).checkToken({}), Code.Unauthenticated);
    expect((await t.clientOf(b, AuthService, { token: user.accessToken }).checkToken({})).userId).toBe(user.userId);
  });

  it("a password change ends the other sessions: their access tokens are refused on the other instance within a second", async () => {
    const user = await t.signUp();
    const second = (await t.client(AuthService).login({ email: user.email, password: user.password })).tokens!;
    await warm(second.accessToken);
    await t.client(AuthService, { token: user.accessToken }).changePassword({
      currentPassword: user.password,
      newPassword: "another correct horse battery staple",
      currentRefreshToken: user.refreshToken,
    });
    expect(await msUntilRejected(b, second.accessToken)).toBeLessThan(1000);
    expect((await t.clientOf(b, AuthService, { token: user.accessToken }).checkToken({})).userId).toBe(user.userId);
  });
});

describe.each(DB_KINDS)("API-key scopes at creation, on %s", (db) => {
  const t = useTessera({ db, env: { AUTH_MODE: "full" }, forwardedFor: true });

  it("CreateAccountApiKey with scopes stores them; an unknown scope creates no key", async () => {
    const user = await t.signUp();
    const accountId = (await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const keys = t.client(ApiKeyService, { token: user.accessToken });
    const expiresAt = timestampFromDate(new Date(Date.now() + 86_400_000));
    await expectCode(
      keys.createAccountApiKey({ accountId, name: "typo", expiresAt, scopes: ["tessera.v1.AuthService/CheckTokn"] }),
      Code.InvalidArgument,
      /CheckTokn/,
    );
    expect((await keys.getAccountApiKeys({ accountId })).apiKeys).toEqual([]);
    const created = await keys.createAccountApiKey({ accountId, name: "scoped", expiresAt, scopes: ["tessera.v1.UserAccountService/GetUser"] });
    expect(created.apiKey!.scopes).toEqual(["tessera.v1.UserAccountService/GetUser"]);
    expect((await keys.getAccountApiKeys({ accountId })).apiKeys.map((k) => k.scopes)).toEqual([["tessera.v1.UserAccountService/GetUser"]]);
  });
});
