/**
 * API-key scopes on Tessera itself (issue 19): which scopes a key may be created with
 * (known ones only, never more than its creator may do), that they are shown in get/list
 * and by CheckToken, and that Tessera's interceptor refuses a procedure outside them
 * with PermissionDenied and `WWW-Authenticate: Bearer error="insufficient_scope",
 * scope="..."`. The embedding service's side: test/consumer/connect-scopes.test.ts.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ApiKeyService, AuthService, RevocationService, UserAccountService } from "@tessera/sdk/proto";
import { AccountRole } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { expectCode } from "./helpers/outcome.js";
import { DB_KINDS, useTessera } from "./harness.js";

const inAMonth = () => timestampFromDate(new Date(Date.now() + 30 * 86_400_000));

describe.each(DB_KINDS)("API-key scopes on %s", (db) => {
  const t = useTessera({ db, env: { AUTH_MODE: "full", API_KEY_EXTRA_SCOPES: "jobs:read jobs:write@admin" }, forwardedFor: true });
  let accountId = "";
  let adminToken = "";
  let memberToken = "";
  let instanceAdminToken = "";
  let instanceAdminAccount = "";

  beforeAll(async () => {
    const admin = await t.signUp({ name: "admin" });
    adminToken = admin.accessToken;
    accountId = (await t.client(UserAccountService, { token: adminToken }).createTeamAccount({ name: "Scopes" })).account!.id;
    const member = await t.signUp({ name: "member" });
    memberToken = member.accessToken;
    const invite = await t
      .client(UserAccountService, { token: adminToken })
      .inviteUserToTeamAccount({ accountId, email: member.email, role: AccountRole.MEMBER });
    await t.client(UserAccountService, { token: memberToken }).acceptTeamAccountInvite({ token: invite.token });
    const root = await t.signUp({ name: "root" });
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", root.userId).execute();
    instanceAdminToken = root.accessToken;
    instanceAdminAccount = (await t.client(UserAccountService, { token: root.accessToken }).getUserAccounts({})).accounts[0]!.id;
  });

  const create = (token: string, scopes: string[], account = accountId) =>
    t.client(ApiKeyService, { token }).createAccountApiKey({ accountId: account, name: `k ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth(), scopes });

  describe("creation", () => {
    it("refuses an unknown scope with InvalidArgument naming it, and creates nothing", async () => {
      const before = (await t.client(ApiKeyService, { token: adminToken }).getAccountApiKeys({ accountId })).apiKeys.length;
      await expectCode(
        create(adminToken, ["tessera.v1.UserAccountService/GetUser", "tessera.v1.NoSuchService/*"]),
        Code.InvalidArgument,
        /"tessera\.v1\.NoSuchService\/\*"/,
      );
      await expectCode(create(adminToken, ["jobs:delete"]), Code.InvalidArgument, /"jobs:delete".*API_KEY_EXTRA_SCOPES/);
      await expectCode(create(adminToken, ["read everything"]), Code.InvalidArgument, /"read everything": not a scope/);
      await expectCode(create(adminToken, ["tessera.v1.AuthService:write"]), Code.InvalidArgument, /not a scope/);
      const many = Array.from({ length: 33 }, (_, i) => `tessera.v1.UserAccountService/GetUser${i}`);
      await expectCode(create(adminToken, many), Code.InvalidArgument, /at most 32 scopes/);
      expect((await t.client(ApiKeyService, { token: adminToken }).getAccountApiKeys({ accountId })).apiKeys.length).toBe(before);
    });

    it("accepts Tessera's scopes and the configured extra ones, deduplicated, and shows them in get, list and CheckToken", async () => {
      const scopes = ["tessera.v1.UserAccountService:read", "jobs:read", "*:read", "tessera.v1.AuthService/*", "jobs:read"];
      const created = await create(adminToken, scopes);
      const want = ["tessera.v1.UserAccountService:read", "jobs:read", "*:read", "tessera.v1.AuthService/*"];
      expect(created.apiKey!.scopes).toEqual(want);
      const keys = t.client(ApiKeyService, { token: adminToken });
      expect((await keys.getAccountApiKey({ id: created.apiKey!.id })).apiKey!.scopes).toEqual(want);
      expect((await keys.getAccountApiKeys({ accountId })).apiKeys.find((k) => k.id === created.apiKey!.id)!.scopes).toEqual(want);
      const me = await t.client(AuthService, { token: created.keyValue }).checkToken({});
      expect(me.scopes).toEqual(want);
      expect(me.apiKeyId).toBe(created.apiKey!.id);
      // A key without scopes says so with an empty list.
      const plain = await create(adminToken, []);
      expect(plain.apiKey!.scopes).toEqual([]);
      expect((await t.client(AuthService, { token: plain.keyValue }).checkToken({})).scopes).toEqual([]);
    });

    it("never grants more than the creator may do (escalation attempts fail)", async () => {
      // A member naming an admin-only procedure, an extra scope that needs an admin, the instance admin's stream.
      await expectCode(create(memberToken, ["tessera.v1.UserAccountService/SetUserRole"]), Code.PermissionDenied, /needs role admin/);
      await expectCode(create(memberToken, ["jobs:write"]), Code.PermissionDenied, /"jobs:write" needs role admin/);
      await expectCode(create(memberToken, ["revocations:watch"]), Code.PermissionDenied, /instance admin/);
      await expectCode(create(adminToken, ["tessera.v1.RevocationService/GetRevocationStatus"]), Code.PermissionDenied, /instance admin/);
      // The same scopes for creators who hold the rights.
      expect((await create(adminToken, ["jobs:write"])).apiKey!.scopes).toEqual(["jobs:write"]);
      expect((await create(instanceAdminToken, ["revocations:watch"], instanceAdminAccount)).apiKey!.scopes).toEqual(["revocations:watch"]);
      // A wildcard is accepted, but the policy still applies to its calls: this key gets no revocation stream.
      const wildcard = await create(adminToken, ["tessera.v1.RevocationService/*"]);
      await expectCode(
        t.client(RevocationService, { token: wildcard.keyValue }).getRevocationStatus({ sequence: 0n }),
        Code.PermissionDenied,
        /instance admin/,
      );
      // A key cannot mint keys at all, scoped or not.
      await expectCode(create(wildcard.keyValue, []), Code.PermissionDenied);
    });

    it("review: a member gets no key that reaches admin-only extra scopes wholesale (no scopes, *:read)", async () => {
      // jobs:write needs an admin: a key without scopes or with *:read would reach it (or its
      // read procedures) in the embedding service, so a member may not make one.
      await expectCode(create(memberToken, []), Code.PermissionDenied, /a key without scopes reaches every procedure.*role admin/);
      await expectCode(create(memberToken, ["*:read"]), Code.PermissionDenied, /scope "\*:read" reaches every procedure/);
      // Named scopes within the member's role still work; Tessera's own read shorthand too.
      expect((await create(memberToken, ["jobs:read", "tessera.v1.UserAccountService:read"])).apiKey!.scopes).toEqual([
        "jobs:read",
        "tessera.v1.UserAccountService:read",
      ]);
    });

    it("review: regenerating hands out a new value only to a caller who could have created the key", async () => {
      const keys = (token: string) => t.client(ApiKeyService, { token });
      // An admin's jobs:write key: a member may not take a fresh value of it.
      const adminKey = await create(adminToken, ["jobs:write"]);
      await expectCode(
        keys(memberToken).regenerateAccountApiKey({ id: adminKey.apiKey!.id, expiresAt: inAMonth() }),
        Code.PermissionDenied,
        /needs role admin/,
      );
      // The old value still works: nothing was changed by the refused call.
      expect((await t.client(AuthService, { token: adminKey.keyValue }).checkToken({})).scopes).toEqual(["jobs:write"]);
      // The admin may, and a member may regenerate a key within their own role.
      expect((await keys(adminToken).regenerateAccountApiKey({ id: adminKey.apiKey!.id, expiresAt: inAMonth() })).keyValue).not.toBe(adminKey.keyValue);
      const memberKey = await create(memberToken, ["jobs:read"]);
      expect((await keys(memberToken).regenerateAccountApiKey({ id: memberKey.apiKey!.id, expiresAt: inAMonth() })).keyValue).toMatch(/^tsk_/);
      // An instance admin's key in the team account stays the instance admin's: its value
      // could reach what only keys of instance admins may (RevocationService).
      const invite = await t.client(UserAccountService, { token: adminToken }).inviteUserToTeamAccount({
        accountId,
        email: (await t.client(UserAccountService, { token: instanceAdminToken }).getUser({})).email,
        role: AccountRole.MEMBER,
      });
      await t.client(UserAccountService, { token: instanceAdminToken }).acceptTeamAccountInvite({ token: invite.token });
      const rootKey = await create(instanceAdminToken, ["tessera.v1.UserAccountService/GetUser"]);
      await expectCode(keys(memberToken).regenerateAccountApiKey({ id: rootKey.apiKey!.id, expiresAt: inAMonth() }), Code.PermissionDenied, /instance admin/);
    });
  });

  describe("enforcement by Tessera's interceptor", () => {
    it("lets a scoped key call what its scopes grant and refuses the rest with insufficient_scope", async () => {
      const key = (await create(memberToken, ["tessera.v1.UserAccountService/GetUser"])).keyValue;
      const users = t.client(UserAccountService, { token: key });
      expect((await users.getUser({})).userId).not.toBe("");
      const e = await expectCode(users.getUserAccounts({}), Code.PermissionDenied, /scopes do not include/);
      expect(e.metadata.get("www-authenticate")).toBe(
        'Bearer realm="tessera", error="insufficient_scope", scope="tessera.v1.UserAccountService/GetUserAccounts"',
      );
      // CheckToken answers every key: embedding services learn the scopes through it.
      expect((await t.client(AuthService, { token: key }).checkToken({})).scopes).toEqual(["tessera.v1.UserAccountService/GetUser"]);
    });

    it("a jobs:read key (an embedding service's scope) calls none of Tessera's procedures but CheckToken", async () => {
      const key = (await create(memberToken, ["jobs:read"])).keyValue;
      const e = await expectCode(t.client(UserAccountService, { token: key }).getUser({}), Code.PermissionDenied);
      expect(e.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope", scope="tessera.v1.UserAccountService/GetUser"');
      await expectCode(t.client(UserAccountService, { token: key }).getTeamAccountMembers({ accountId }), Code.PermissionDenied, /scopes/);
      expect((await t.client(AuthService, { token: key }).checkToken({})).scopes).toEqual(["jobs:read"]);
    });

    it("read shorthands grant read-only procedures only", async () => {
      const key = (await create(adminToken, ["*:read"])).keyValue;
      const users = t.client(UserAccountService, { token: key });
      expect((await users.getTeamAccountMembers({ accountId })).users.length).toBeGreaterThan(0);
      const service = (await create(memberToken, ["tessera.v1.UserAccountService:read"])).keyValue;
      expect((await t.client(UserAccountService, { token: service }).getUser({})).userId).not.toBe("");
      const e = await expectCode(t.client(RevocationService, { token: service }).getRevocationStatus({ sequence: 0n }), Code.PermissionDenied);
      expect(e.metadata.get("www-authenticate")).toContain('scope="revocations:watch"');
    });

    it("an instance admin's revocations:watch key may watch and do nothing else", async () => {
      const key = (await create(instanceAdminToken, ["revocations:watch"], instanceAdminAccount)).keyValue;
      expect((await t.client(RevocationService, { token: key }).getRevocationStatus({ sequence: 0n })).appliedEverywhere).toBe(true);
      const e = await expectCode(t.client(UserAccountService, { token: key }).getUser({}), Code.PermissionDenied);
      expect(e.metadata.get("www-authenticate")).toContain('error="insufficient_scope"');
    });
  });
});
