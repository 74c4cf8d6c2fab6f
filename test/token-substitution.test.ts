/**
 * RFC 8725 section 3.12 cross-substitution matrix (issue 10): six kinds of credential
 * (Tessera access token, Tessera refresh token, invite token, API key, provider ID token,
 * provider access token), each sent wherever each kind is expected: as the bearer of
 * CheckToken, as `refresh_token` of RefreshToken, as `token` of AcceptTeamAccountInvite
 * and as `refresh_token` of Logout. Only the right pairings work; every other cell is
 * refused without side effects. Against a real OpenID provider.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { useTessera, useTestProvider } from "./harness.js";
import { serverEnvFor } from "./helpers/oidc-provider.js";
import type { DescService } from "@bufbuild/protobuf";
import { codeOf as outcome } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const KINDS = ["tessera_access", "tessera_refresh", "invite", "api_key", "provider_id_token", "provider_access"] as const;
type Kind = (typeof KINDS)[number];

describe("token cross-substitution (RFC 8725 3.12)", () => {
  const provider = useTestProvider();
  const t = useTessera({ env: () => serverEnvFor(provider, "http://127.0.0.1/cb"), forwardedFor: true });
  let teamId = "";
  let ownerToken = "";

  const client = <S extends DescService>(service: S, token?: string) => t.client(service, { token });
  const signUp = () => t.signUp({ password: PASSWORD });

  /** A provider ID token (aud = client id) and access token (aud = the API) from one real login. */
  const providerTokens = (subject: string) => provider.tokensFor(subject);

  /** A fresh credential of the kind (`inviteFor`: the email an invite is addressed to). */
  async function mint(kind: Kind, inviteFor?: string): Promise<string> {
    switch (kind) {
      case "tessera_access":
        return (await signUp()).tokens.accessToken;
      case "tessera_refresh":
        return (await signUp()).tokens.refreshToken;
      case "invite":
        return (
          await client(UserAccountService, ownerToken).inviteUserToTeamAccount({
            accountId: teamId,
            email: inviteFor ?? `nobody-${randomBytes(4).toString("hex")}@example.com`,
            role: AccountRole.VIEWER,
          })
        ).token;
      case "api_key":
        return (
          await client(ApiKeyService, ownerToken).createAccountApiKey({
            accountId: teamId,
            name: `k-${randomBytes(4).toString("hex")}`,
            expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
          })
        ).keyValue;
      case "provider_id_token":
        return (await providerTokens(`sub-${randomBytes(4).toString("hex")}`)).idToken;
      case "provider_access":
        return (await providerTokens(`sub-${randomBytes(4).toString("hex")}`)).accessToken;
    }
  }

  beforeAll(async () => {
    const owner = await signUp();
    ownerToken = owner.tokens.accessToken;
    teamId = (await client(UserAccountService, ownerToken).createTeamAccount({ name: "Substitution" })).account!.id;
  }, 60_000);

  it("mints every kind of credential with its expected shape (control)", async () => {
    const shapes: Record<Kind, RegExp> = {
      tessera_access: /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/,
      tessera_refresh: /^tsr_[\w-]{43}$/,
      invite: /^tsi_[\w-]+$/,
      api_key: /^tsk_\w+$/,
      provider_id_token: /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/,
      provider_access: /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/,
    };
    for (const k of KINDS) expect(await mint(k), k).toMatch(shapes[k]);
  });

  it("as the bearer of CheckToken: only Tessera access tokens, API keys and provider access tokens authenticate", async () => {
    const accepted: Record<Kind, PrincipalKind | undefined> = {
      tessera_access: PrincipalKind.USER,
      tessera_refresh: undefined,
      invite: undefined,
      api_key: PrincipalKind.API_KEY,
      provider_id_token: undefined,
      provider_access: PrincipalKind.OIDC_USER,
    };
    for (const k of KINDS) {
      const token = await mint(k);
      const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
      if (accepted[k] === undefined) {
        expect(res.status, k).toBe(401);
        expect(res.headers.get("www-authenticate"), k).toBe('Bearer realm="tessera", error="invalid_token"');
      } else {
        expect(res.status, k).toBe(200);
        expect(((await res.json()) as { principalKind: string }).principalKind, k).toBe(`PRINCIPAL_KIND_${PrincipalKind[accepted[k]!]}`);
      }
    }
  });

  it("as refresh_token of RefreshToken: only a refresh token is exchanged", async () => {
    for (const k of KINDS) {
      const got = await outcome(client(AuthService).refreshToken({ refreshToken: await mint(k) }));
      expect(got, k).toBe(k === "tessera_refresh" ? "ok" : Code.Unauthenticated);
    }
  });

  it("as token of AcceptTeamAccountInvite: only the invite token joins the team", async () => {
    for (const k of KINDS) {
      const invitee = await signUp();
      const token = await mint(k, invitee.email);
      const got = await outcome(client(UserAccountService, invitee.tokens.accessToken).acceptTeamAccountInvite({ token }));
      const member = await t.database.db.kysely
        .selectFrom("memberships")
        .select("role")
        .where("account_id", "=", teamId)
        .where("user_id", "=", invitee.tokens.userId)
        .executeTakeFirst();
      if (k === "invite") {
        expect(got, k).toBe("ok");
        expect(member?.role, k).toBe("viewer");
      } else {
        expect([Code.InvalidArgument, Code.NotFound], `${k}: ${String(got)}`).toContain(got);
        expect(member, k).toBeUndefined();
      }
    }
  });

  it("as refresh_token of Logout: only a refresh token ends its session; nothing else ends any session", async () => {
    for (const k of KINDS) {
      const victim = await signUp();
      const presented = k === "tessera_access" ? victim.tokens.accessToken : k === "tessera_refresh" ? victim.tokens.refreshToken : await mint(k);
      // Logout answers the same whatever it is given (no oracle)...
      expect(await outcome(client(AuthService).logout({ refreshToken: presented })), k).toBe("ok");
      // ...but only the victim's own refresh token ended the victim's session.
      const after = await outcome(client(AuthService).refreshToken({ refreshToken: victim.tokens.refreshToken }));
      expect(after, k).toBe(k === "tessera_refresh" ? Code.Unauthenticated : "ok");
    }
    // An API key given to Logout is not revoked by it: it still authenticates.
    const key = await mint("api_key");
    await client(AuthService).logout({ refreshToken: key });
    expect((await client(AuthService, key).checkToken({})).principalKind).toBe(PrincipalKind.API_KEY);
  });
});
