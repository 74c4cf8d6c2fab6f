/**
 * Security headers (issue 10; RFC 6750 section 3, RFC 9111, ASVS V4/V14):
 * - 401 carries `WWW-Authenticate: Bearer realm="tessera"`, plus `error="invalid_token"`
 *   when a token was presented; a 403 for a missing role or an excluded kind of caller
 *   carries `error="insufficient_scope"`; the same travels in gRPC and gRPC-web trailers;
 * - every response carrying a token, key or invite secret has `Cache-Control: no-store`;
 * - no RPC that takes or returns a credential answers HTTP GET.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { useTessera, type Protocol, type SignedUp } from "./harness.js";
import { errorOf as failure } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const PROTOCOLS: Protocol[] = ["connect", "grpc", "grpc-web"];
const SERVICES: DescService[] = [AuthService, ApiKeyService, UserAccountService];

/** RPCs that take or return a credential (token, password, key, invite secret, code). */
const CREDENTIAL_RPCS = [
  "AuthService/SignUp",
  "AuthService/Login",
  "AuthService/RefreshToken",
  "AuthService/Logout",
  "AuthService/GetAuthorizeUrl",
  "AuthService/ExchangeCode",
  "AuthService/CheckToken",
  "AuthService/ChangePassword",
  "AuthService/ListSessions",
  "AuthService/RevokeSession",
  "AuthService/RevokeAllSessions",
  "AuthService/SetUserDisabled",
  "AuthService/RevokeUserSessions",
  "ApiKeyService/CreateAccountApiKey",
  "ApiKeyService/RegenerateAccountApiKey",
  "UserAccountService/InviteUserToTeamAccount",
  "UserAccountService/AcceptTeamAccountInvite",
];

describe("security headers (AUTH_MODE=full, PostgreSQL)", () => {
  const tessera = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });
  let admin: SignedUp;
  let viewer: SignedUp;
  let teamId = "";

  const client = <S extends DescService>(service: S, token?: string, protocol: Protocol = "connect") => tessera.client(service, { token, protocol });

  beforeAll(async () => {
    admin = await tessera.signUp({ password: PASSWORD });
    viewer = await tessera.signUp({ password: PASSWORD });
    teamId = (await client(UserAccountService, admin.accessToken).createTeamAccount({ name: "Headers" })).account!.id;
    const inv = await client(UserAccountService, admin.accessToken).inviteUserToTeamAccount({
      accountId: teamId,
      email: viewer.email,
      role: AccountRole.VIEWER,
    });
    await client(UserAccountService, viewer.accessToken).acceptTeamAccountInvite({ token: inv.token });
  });

  it("answers 401 with WWW-Authenticate: Bearer realm, and error=invalid_token when a token was presented (HTTP)", async () => {
    const post = (auth?: string) =>
      fetch(`${tessera.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
        body: "{}",
      });
    const none = await post();
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="tessera"');
    for (const auth of ["Bearer not-a-token", "Bearer tsk_0000000000000000000000000000000000000000", "Basic dXNlcjpwYXNz"]) {
      const res = await post(auth);
      expect(res.status, auth).toBe(401);
      expect(res.headers.get("www-authenticate"), auth).toBe('Bearer realm="tessera", error="invalid_token"');
    }
  });

  it.each(PROTOCOLS)("carries the 401 and 403 challenges in %s metadata (headers or trailers)", async (protocol) => {
    const missing = await failure(client(AuthService, undefined, protocol).checkToken({}));
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(missing.metadata.get("www-authenticate")).toBe('Bearer realm="tessera"');

    const bad = await failure(client(AuthService, "garbage.token.value", protocol).checkToken({}));
    expect(bad.code).toBe(Code.Unauthenticated);
    expect(bad.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="invalid_token"');

    // A role too low (checked by the handler through AccountAccess).
    const role = await failure(
      client(ApiKeyService, viewer.accessToken, protocol).createAccountApiKey({
        accountId: teamId,
        name: "nope",
        expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
      }),
    );
    expect(role.code).toBe(Code.PermissionDenied);
    expect(role.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope"');

    // Not an instance admin (checked by the interceptor).
    const instance = await failure(
      client(AuthService, viewer.accessToken, protocol).setUserDisabled({ userId: "5a0e3f1c-0000-4000-8000-000000000000", disabled: true }),
    );
    expect(instance.code).toBe(Code.PermissionDenied);
    expect(instance.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope"');

    // Team-admin-only handler check (members.ts) and an API key on a human-only RPC.
    const members = await failure(
      client(UserAccountService, viewer.accessToken, protocol).setUserRole({
        accountId: teamId,
        userId: "5a0e3f1c-0000-4000-8000-000000000000",
        role: AccountRole.ADMIN,
      }),
    );
    expect(members.code).toBe(Code.PermissionDenied);
    expect(members.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope"');
    const key = (
      await client(ApiKeyService, admin.accessToken).createAccountApiKey({
        accountId: teamId,
        name: `k-${protocol}`,
        expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
      })
    ).keyValue;
    const human = await failure(client(AuthService, key, protocol).listSessions({}));
    expect(human.code).toBe(Code.PermissionDenied);
    expect(human.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope"');
  });

  it("sends Cache-Control: no-store with every response carrying a token, key or invite secret", async () => {
    const seen: Record<string, string | null> = {};
    const capture = (name: string) => ({ onHeader: (h: Headers) => (seen[name] = h.get("cache-control")) });
    const email = `ns-${randomBytes(4).toString("hex")}@example.com`;
    await client(AuthService).signUp({ email, password: PASSWORD }, capture("SignUp"));
    const t = (await client(AuthService).login({ email, password: PASSWORD }, capture("Login"))).tokens!;
    await client(AuthService).refreshToken({ refreshToken: t.refreshToken }, capture("RefreshToken"));
    const expiresAt = timestampFromDate(new Date(Date.now() + 86_400_000));
    const created = await client(ApiKeyService, admin.accessToken).createAccountApiKey(
      { accountId: teamId, name: "no-store", expiresAt },
      capture("CreateAccountApiKey"),
    );
    await client(ApiKeyService, admin.accessToken).regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt }, capture("RegenerateAccountApiKey"));
    await client(UserAccountService, admin.accessToken).inviteUserToTeamAccount(
      { accountId: teamId, email: `x-${randomBytes(4).toString("hex")}@example.com` },
      capture("InviteUserToTeamAccount"),
    );
    await client(AuthService, t.accessToken).listSessions({}, capture("ListSessions"));
    expect(seen).toEqual({
      SignUp: "no-store",
      Login: "no-store",
      RefreshToken: "no-store",
      CreateAccountApiKey: "no-store",
      RegenerateAccountApiKey: "no-store",
      InviteUserToTeamAccount: "no-store",
      ListSessions: "no-store",
    });
  });

  it("answers HTTP GET on no RPC that takes or returns a credential", async () => {
    const byKey = new Map<string, { s: DescService; m: DescService["methods"][number] }>(
      SERVICES.flatMap((s) => s.methods.map((m) => [`${s.name}/${m.name}`, { s, m }] as const)),
    );
    for (const key of CREDENTIAL_RPCS) {
      const found = byKey.get(key);
      expect(found, key).toBeDefined();
      // Only NO_SIDE_EFFECTS methods are served over GET by Connect; none of these is one.
      expect(found!.m.idempotency, key).not.toBe(MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS);
      const url = `${tessera.server.baseUrl}/${found!.s.typeName}/${found!.m.name}?connect=v1&encoding=json&message=${encodeURIComponent("{}")}`;
      const res = await fetch(url, { headers: { authorization: `Bearer ${admin.accessToken}` } });
      expect(res.status, key).toBe(405);
      await res.arrayBuffer();
    }
    // Control: a read-only RPC does answer GET.
    const ok = await fetch(`${tessera.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig?connect=v1&encoding=json&message=${encodeURIComponent("{}")}`);
    expect(ok.status).toBe(200);
  });
});
