/**
 * The permission matrix: every RPC of every service of the contract (iterated from the generated
 * service descriptors, so a new RPC cannot be forgotten) against every kind of caller:
 * anonymous (no token), a non-member, a viewer, a member and an admin of the account,
 * an API key of the account, an API key of another account and a scoped API key of the
 * account (GetUser and GetTeamAccountMembers only). Each cell states the
 * expected outcome code; a method without a row fails the test.
 *
 * Cells: a Code; "ok"; "ran" (the policy lets the caller through to the handler: the
 * outcome is neither Unauthenticated nor PermissionDenied, whatever the handler then
 * answers, including Unimplemented while a feature is unfinished); or "public" (no
 * credentials needed: the caller does not matter, so every caller gets the same outcome,
 * whatever the handler answers to an empty request).
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AccountRole, UserAccountService, UserType } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { ClientCertService } from "../packages/sdk/src/gen/tessera/v1/client_cert_pb.js";
import { POLICY, policyKey } from "../packages/server/src/auth/policy/policy.js";
import { TESSERA_SERVICES } from "../packages/server/src/auth/policy/services.js";
import * as proto from "../packages/sdk/src/proto.js";
import { useTessera } from "./harness.js";

const PASSWORD = "correct horse battery staple";
/** Every service of the contract, read from the generated code: a new service needs rows too. */
const SERVICES: DescService[] = (Object.values(proto) as unknown[]).filter(
  (v): v is DescService => typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "service",
);

const WHO = ["anonymous", "nonMember", "viewer", "member", "admin", "apiKey", "otherApiKey", "scopedKey"] as const;
type Who = (typeof WHO)[number];
type Outcome = Code | "ok" | "ran" | "public";
type Row = readonly [Outcome, Outcome, Outcome, Outcome, Outcome, Outcome, Outcome, Outcome];

/** The scopes of the `scopedKey` caller. */
const SCOPED_KEY_SCOPES = ["tessera.v1.UserAccountService/GetUser", "tessera.v1.UserAccountService/GetTeamAccountMembers"];

const { Unauthenticated: U, PermissionDenied: PD, NotFound: NF, InvalidArgument: IA } = Code;

/**
 * The expected outcome per caller, in the order of WHO:
 * anonymous, non-member, viewer, member, admin, API key of the account, API key of another account,
 * API key of the account with the scopes SCOPED_KEY_SCOPES (it may call those two procedures
 * and CheckToken; everything else is PermissionDenied with `insufficient_scope`).
 */
const MATRIX: Record<string, Row> = {
  "AuthService/GetAuthConfig": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/SignUp": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/Login": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/RefreshToken": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/Logout": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/GetAuthorizeUrl": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/ExchangeCode": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AuthService/CheckToken": [U, "ok", "ok", "ok", "ok", "ok", "ok", "ok"],
  // Human-only, API keys refused. Humans reach the handler: an empty current password is
  // wrong (InvalidArgument), a session id that is not the caller's is NotFound.
  "AuthService/ChangePassword": [U, IA, IA, IA, IA, PD, PD, PD],
  "AuthService/ListSessions": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "AuthService/RevokeSession": [U, NF, NF, NF, NF, PD, PD, PD],
  "AuthService/RevokeAllSessions": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  // Instance admins only: none of these callers is one.
  "AuthService/SetUserDisabled": [U, PD, PD, PD, PD, PD, PD, PD],
  "AuthService/RevokeUserSessions": [U, PD, PD, PD, PD, PD, PD, PD],

  "ApiKeyService/CreateAccountApiKey": [U, PD, PD, "ok", "ok", PD, PD, PD],
  "ApiKeyService/GetAccountApiKeys": [U, PD, "ok", "ok", "ok", PD, PD, PD],
  "ApiKeyService/GetAccountApiKey": [U, NF, "ok", "ok", "ok", PD, PD, PD],
  "ApiKeyService/RegenerateAccountApiKey": [U, NF, PD, "ok", "ok", PD, PD, PD],
  "ApiKeyService/RevokeOldAccountApiKeyValue": [U, NF, PD, "ok", "ok", PD, PD, PD],
  "ApiKeyService/DeleteAccountApiKey": [U, NF, PD, "ok", "ok", PD, PD, PD],

  "UserAccountService/GetUser": [U, "ok", "ok", "ok", "ok", "ok", "ok", "ok"],
  "UserAccountService/SetUser": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "UserAccountService/GetUserAccounts": [U, "ok", "ok", "ok", "ok", "ok", "ok", PD],
  "UserAccountService/SetPersonalAccount": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "UserAccountService/CreateTeamAccount": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "UserAccountService/IsUserInAccount": [U, "ok", "ok", "ok", "ok", "ok", "ok", PD],
  "UserAccountService/GetTeamAccountMembers": [U, PD, "ok", "ok", "ok", "ok", PD, "ok"],
  "UserAccountService/RemoveTeamAccountMember": [U, PD, PD, PD, "ok", PD, PD, PD],
  "UserAccountService/InviteUserToTeamAccount": [U, PD, PD, PD, "ok", PD, PD, PD],
  "UserAccountService/GetTeamAccountInvites": [U, PD, PD, PD, "ok", PD, PD, PD],
  "UserAccountService/RemoveTeamAccountInvite": [U, NF, PD, PD, "ok", PD, PD, PD],
  "UserAccountService/AcceptTeamAccountInvite": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "UserAccountService/SetUserRole": [U, PD, PD, PD, "ok", PD, PD, PD],
  "UserAccountService/GetAccountAuditEvents": [U, PD, PD, PD, "ok", PD, PD, PD],

  // The token or email in the request is the input: no caller matters.
  "AccountRecoveryService/VerifyEmail": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AccountRecoveryService/ResendVerification": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AccountRecoveryService/RequestPasswordReset": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "AccountRecoveryService/ResetPassword": ["public", "public", "public", "public", "public", "public", "public", "public"],
  // RFC 8628: the program starts and polls without credentials (an empty request is
  // InvalidArgument for everyone); any signed-in person looks up and decides a user
  // code (an empty one is InvalidArgument), API keys cannot (test/device-login.test.ts).
  "DeviceLoginService/StartDeviceLogin": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "DeviceLoginService/PollDeviceLogin": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "DeviceLoginService/GetDeviceLogin": [U, IA, IA, IA, IA, PD, PD, PD],
  "DeviceLoginService/ApproveDeviceLogin": [U, IA, IA, IA, IA, PD, PD, PD],
  "DeviceLoginService/DenyDeviceLogin": [U, IA, IA, IA, IA, PD, PD, PD],
  // The second factor: the caller's own (API keys refused); VerifyMfa's challenge is its credential.
  "MfaService/GetMfaStatus": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "MfaService/StartTotpEnrollment": [U, "ran", "ran", "ran", "ran", PD, PD, PD],
  "MfaService/ConfirmTotpEnrollment": [U, "ran", "ran", "ran", "ran", PD, PD, PD],
  "MfaService/DisableTotp": [U, "ran", "ran", "ran", "ran", PD, PD, PD],
  "MfaService/RegenerateRecoveryCodes": [U, "ran", "ran", "ran", "ran", PD, PD, PD],
  "MfaService/VerifyMfa": ["public", "public", "public", "public", "public", "public", "public", "public"],
  "MfaService/ResetUserMfa": [U, PD, PD, PD, PD, PD, PD, PD],

  // Instance admins and keys an instance admin created (test/revocation-service.test.ts): none of these.
  "IdentityService/ListIdentities": [U, "ok", "ok", "ok", "ok", PD, PD, PD],
  "IdentityService/UnlinkIdentity": [U, NF, NF, NF, NF, PD, PD, PD],

  // Instance admins only (test/admin-service.test.ts shows one allowed): none of these,
  // an account admin and every API key included.
  "AdminService/ListUsers": [U, PD, PD, PD, PD, PD, PD, PD],
  "AdminService/GetUserDetails": [U, PD, PD, PD, PD, PD, PD, PD],
  "AdminService/ListApiKeys": [U, PD, PD, PD, PD, PD, PD, PD],
  "AdminService/RevokeApiKey": [U, PD, PD, PD, PD, PD, PD, PD],

  "RevocationService/WatchRevocations": [U, PD, PD, PD, PD, PD, PD, PD],
  "RevocationService/AckRevocations": [U, PD, PD, PD, PD, PD, PD, PD],
  "RevocationService/GetRevocationStatus": [U, PD, PD, PD, PD, PD, PD, PD],

  // Account admins only; API keys never (test/client-cert.test.ts has the certificate callers).
  "ClientCertService/CreateAccountClientCert": [U, PD, PD, PD, "ok", PD, PD, PD],
  "ClientCertService/ListAccountClientCerts": [U, PD, PD, PD, "ok", PD, PD, PD],
  "ClientCertService/DeleteAccountClientCert": [U, NF, PD, PD, "ok", PD, PD, PD],
};

interface Caller {
  who: Who;
  token: string | undefined;
  userId: string | undefined;
  email: string | undefined;
}

function codeName(o: Outcome | undefined): string {
  return o === undefined ? "undefined" : typeof o === "string" ? o : Code[o];
}

describe("permission matrix (AUTH_MODE=full, PostgreSQL)", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });
  const callers = {} as Record<Who, Caller>;
  let accountId = "";
  let targetUserId = "";
  let adminToken = "";

  const clientOf = <S extends DescService>(service: S, token?: string) => t.client(service, { token });
  const asAdmin = () => clientOf(UserAccountService, adminToken);
  const inAMonth = () => timestampFromDate(new Date(Date.now() + 30 * 86_400_000));

  async function signUp(name: string): Promise<Caller & { token: string; userId: string; email: string }> {
    const u = await t.signUp({ email: `${name}-${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name });
    return { who: "nonMember", token: u.accessToken, userId: u.userId, email: u.email };
  }

  async function join(user: { token: string; email: string }, team: string, role: AccountRole): Promise<void> {
    const inv = await asAdmin().inviteUserToTeamAccount({ accountId: team, email: user.email, role });
    await clientOf(UserAccountService, user.token).acceptTeamAccountInvite({ token: inv.token });
  }

  async function newKey(account: string, token: string, scopes: string[] = []): Promise<{ id: string; value: string }> {
    const res = await clientOf(ApiKeyService, token).createAccountApiKey({
      accountId: account,
      name: `key ${randomBytes(4).toString("hex")}`,
      expiresAt: inAMonth(),
      scopes,
    });
    return { id: res.apiKey!.id, value: res.keyValue };
  }

  beforeAll(async () => {
    const admin = await signUp("admin");
    adminToken = admin.token;
    accountId = (await asAdmin().createTeamAccount({ name: "Matrix" })).account!.id;
    const viewer = await signUp("viewer");
    const member = await signUp("member");
    const nonMember = await signUp("outsider");
    const target = await signUp("target");
    targetUserId = target.userId;
    await join(viewer, accountId, AccountRole.VIEWER);
    await join(member, accountId, AccountRole.MEMBER);
    await join(target, accountId, AccountRole.VIEWER);
    const otherAccount = (await clientOf(UserAccountService, nonMember.token).setPersonalAccount({})).account!.id;
    const key = await newKey(accountId, admin.token);
    const otherKey = await newKey(otherAccount, nonMember.token);
    const scopedKey = await newKey(accountId, admin.token, SCOPED_KEY_SCOPES);
    callers.anonymous = { who: "anonymous", token: undefined, userId: undefined, email: undefined };
    callers.nonMember = { ...nonMember, who: "nonMember" };
    callers.viewer = { ...viewer, who: "viewer" };
    callers.member = { ...member, who: "member" };
    callers.admin = { ...admin, who: "admin" };
    callers.apiKey = { who: "apiKey", token: key.value, userId: undefined, email: undefined };
    callers.otherApiKey = { who: "otherApiKey", token: otherKey.value, userId: undefined, email: undefined };
    callers.scopedKey = { who: "scopedKey", token: scopedKey.value, userId: undefined, email: undefined };
  });

  /** A request for the method that would succeed for an authorized caller; built fresh per call. */
  async function requestFor(key: string, caller: Caller): Promise<Record<string, unknown>> {
    switch (key) {
      case "ApiKeyService/CreateAccountApiKey":
        return { accountId, name: `k ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth() };
      case "ApiKeyService/GetAccountApiKeys":
        return { accountId };
      case "ApiKeyService/GetAccountApiKey":
        return { id: (await newKey(accountId, adminToken)).id };
      case "ApiKeyService/RegenerateAccountApiKey":
        return { id: (await newKey(accountId, adminToken)).id, expiresAt: inAMonth() };
      case "ApiKeyService/DeleteAccountApiKey":
        return { id: (await newKey(accountId, adminToken)).id };
      case "ApiKeyService/RevokeOldAccountApiKeyValue": {
        // A key in an overlap, so there is an old value to revoke.
        const { id } = await newKey(accountId, adminToken);
        await clientOf(ApiKeyService, adminToken).regenerateAccountApiKey({ id, expiresAt: inAMonth(), overlapSeconds: 3600 });
        return { id };
      }
      case "ClientCertService/CreateAccountClientCert":
        return { accountId, name: `c ${randomBytes(4).toString("hex")}`, match: { case: "subject", value: "CN=matrix" } };
      case "ClientCertService/ListAccountClientCerts":
        return { accountId };
      case "ClientCertService/DeleteAccountClientCert": {
        const created = await clientOf(ClientCertService, adminToken).createAccountClientCert({
          accountId,
          name: `d ${randomBytes(4).toString("hex")}`,
          match: { case: "subject", value: "CN=matrix" },
        });
        return { id: created.clientCert!.id };
      }
      case "AuthService/RevokeSession":
      case "IdentityService/UnlinkIdentity":
        return { id: "00000000-0000-4000-8000-000000000000" };
      case "AuthService/SetUserDisabled":
        return { userId: targetUserId, disabled: false };
      case "AuthService/RevokeUserSessions":
      case "MfaService/ResetUserMfa":
      case "AdminService/GetUserDetails":
        return { userId: targetUserId };
      case "AdminService/RevokeApiKey":
        return { id: (await newKey(accountId, adminToken)).id };
      case "RevocationService/WatchRevocations":
        return { subscriberName: "matrix" };
      case "UserAccountService/CreateTeamAccount":
        return { name: `team ${randomBytes(4).toString("hex")}` };
      case "UserAccountService/IsUserInAccount":
      case "UserAccountService/GetTeamAccountMembers":
      case "UserAccountService/GetTeamAccountInvites":
      case "UserAccountService/GetAccountAuditEvents":
        return { accountId };
      case "UserAccountService/RemoveTeamAccountMember":
        // Re-add the target each time so every caller faces the same account.
        await t.database.db.kysely
          .insertInto("memberships")
          .values({ account_id: accountId, user_id: targetUserId, role: "viewer" })
          .onConflict((oc) => oc.columns(["account_id", "user_id"]).doUpdateSet({ role: "viewer" }))
          .execute();
        return { accountId, userId: targetUserId };
      case "UserAccountService/SetUserRole":
        return { accountId, userId: targetUserId, role: AccountRole.VIEWER };
      case "UserAccountService/InviteUserToTeamAccount":
        return { accountId, email: `invitee-${randomBytes(4).toString("hex")}@example.com` };
      case "UserAccountService/RemoveTeamAccountInvite":
        return { id: (await asAdmin().inviteUserToTeamAccount({ accountId, email: `gone-${randomBytes(4).toString("hex")}@example.com` })).invite!.id };
      case "UserAccountService/AcceptTeamAccountInvite": {
        // An invite to the caller's own email, for a scratch team: humans may accept it.
        const scratch = (await asAdmin().createTeamAccount({ name: `scratch ${randomBytes(4).toString("hex")}` })).account!.id;
        const email = caller.email ?? `nobody-${randomBytes(4).toString("hex")}@example.com`;
        return { token: (await asAdmin().inviteUserToTeamAccount({ accountId: scratch, email })).token };
      }
      default:
        return {};
    }
  }

  async function call(service: DescService, method: DescMethod, caller: Caller): Promise<Code | "ok"> {
    const req = await requestFor(policyKey(service.typeName, method.name), caller);
    const client = clientOf(service, caller.token) as unknown as Record<string, (r: unknown) => Promise<unknown>>;
    try {
      const res = client[method.localName]!(req);
      if (method.methodKind === "server_streaming") {
        // The first message (the head) is enough: then stop reading.
        for await (const _ of res as unknown as AsyncIterable<unknown>) break;
      } else await res;
      return "ok";
    } catch (e) {
      return ConnectError.from(e).code;
    }
  }

  it("has a policy rule and a matrix row for every RPC, and nothing else", () => {
    const keys = SERVICES.flatMap((s) => s.methods.map((m) => policyKey(s.typeName, m.name))).sort();
    expect(Object.keys(POLICY).sort()).toEqual(keys);
    expect(Object.keys(MATRIX).sort()).toEqual(keys);
    // The server's own list (scopes are read from it) names every service of the contract.
    expect(TESSERA_SERVICES.map((svc) => svc.typeName).sort()).toEqual(SERVICES.map((svc) => svc.typeName).sort());
  });

  it("shows an API key only its own account", async () => {
    const key = clientOf(UserAccountService, callers.apiKey.token);
    const { accounts } = await key.getUserAccounts({});
    expect(accounts).toEqual([expect.objectContaining({ id: accountId, role: AccountRole.VIEWER })]);
    expect((await key.isUserInAccount({ accountId })).ok).toBe(true);
    const other = await clientOf(UserAccountService, callers.otherApiKey.token).getUserAccounts({});
    expect(other.accounts.map((a) => a.id)).not.toContain(accountId);
    expect((await clientOf(UserAccountService, callers.otherApiKey.token).isUserInAccount({ accountId })).ok).toBe(false);
    expect((await key.getUser({})).userType).toBe(UserType.MACHINE);
  });

  // Revoking all sessions ends the caller's sessions: run it last.
  const methods = SERVICES.flatMap((s) => s.methods.map((m) => ({ service: s, method: m }))).sort(
    (a, b) => Number(a.method.name === "RevokeAllSessions") - Number(b.method.name === "RevokeAllSessions"),
  );
  it.each(methods.map((x) => [policyKey(x.service.typeName, x.method.name), x] as const))("%s", async (key, { service, method }) => {
    const row = MATRIX[key];
    expect(row, `no matrix row for ${key}`).toBeDefined();
    const got: Record<string, string> = {};
    const want: Record<string, string> = {};
    const outcomes: Array<Code | "ok"> = [];
    for (const [i, who] of WHO.entries()) {
      const outcome = await call(service, method, callers[who]);
      outcomes.push(outcome);
      got[who] = codeName(outcome);
      want[who] = codeName(row![i]);
    }
    if (row!.every((o) => o === "public")) {
      // Public: who calls does not matter (a handler may still refuse a bad credential in the body).
      expect(new Set(outcomes).size, `${key}: ${JSON.stringify(got)}`).toBe(1);
      return;
    }
    for (const [i, o] of row!.entries()) {
      if (o !== "ran") continue;
      const who = WHO[i]!;
      const actual = outcomes[i];
      expect(actual !== Code.Unauthenticated && actual !== Code.PermissionDenied, `${key} ${who}: ${got[who]}`).toBe(true);
      got[who] = "ran";
    }
    expect(got, key).toEqual(want);
  });
});
