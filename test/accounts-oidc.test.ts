/**
 * UserAccountService for users of an OpenID provider (a real `oidc-provider` started in
 * the test; tokens signed with its key): GetUser/SetUser refresh the stored profile from
 * the token's claims, invites match the verified `email` claim (or the stored verified
 * email when the provider's UserInfo cannot help), and an invite used by someone else with
 * the same email answers InvalidArgument. Plus the UserInfo client's contract.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "./harness.js";
import { SignJWT, type JWTPayload } from "jose";
import { Code } from "@connectrpc/connect";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { createUserinfoClient } from "../packages/server/src/auth/oidc/admin-api/userinfo.js";
import { TEST_KID, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { codeOf } from "./helpers/outcome.js";

describe("UserAccountService with OpenID provider users", () => {
  const provider = useTestProvider();
  const t = useTessera({ env: () => ({ AUTH_MODE: "full", AUTH_BASEURL: provider.issuer, AUTH_AUDIENCE: TEST_RESOURCE }), forwardedFor: true });

  const client = (token: string) => t.client(UserAccountService, { token });

  async function tokenFor(sub: string, extra: JWTPayload = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: provider.issuer, aud: TEST_RESOURCE, sub, iat: now, exp: now + 600, ...extra })
      .setProtectedHeader({ alg: "RS256", kid: TEST_KID, typ: "at+jwt" })
      .sign(provider.privateKey);
  }

  it("returns and refreshes the provider user's profile from its claims", async () => {
    const sub = `oidc-${randomBytes(4).toString("hex")}`;
    const first = await tokenFor(sub, { email: `${sub}@example.test`, name: "First Name" });
    const me = await client(first).getUser({});
    expect(me).toMatchObject({ email: `${sub}@example.test`, name: "First Name" });
    expect((await client(first).setUser({})).userId).toBe(me.userId);

    const renamed = await tokenFor(sub, { email: `${sub.toUpperCase()}@Example.test`, name: "Second Name", picture: "https://img.example.test/p.png" });
    expect((await client(renamed).setUser({})).userId).toBe(me.userId);
    const identity = await t.database.db.kysely.selectFrom("identities").selectAll().where("subject", "=", sub).executeTakeFirstOrThrow();
    expect(identity).toMatchObject({ email: `${sub.toUpperCase()}@Example.test`, name: "Second Name", image: "https://img.example.test/p.png" });
    const user = await t.database.db.kysely.selectFrom("users").selectAll().where("id", "=", me.userId).executeTakeFirstOrThrow();
    expect(user.email_normalized).toBe(`${sub}@example.test`);
    await t.server.app.deps.audit.flush();
    const events = await t.database.db.kysely.selectFrom("audit_events").select("action").where("actor_user_id", "=", me.userId).execute();
    expect(events.map((e) => e.action)).toContain("user.update.success");
    // Provisioning made the personal account.
    expect((await client(renamed).getUserAccounts({})).accounts).toHaveLength(1);
  });

  it("matches invites against the email claim, refuses unverified emails and invites used by someone else", async () => {
    const admin = `admin-${randomBytes(4).toString("hex")}`;
    const adminToken = await tokenFor(admin, { email: `${admin}@example.test` });
    const team = (await client(adminToken).createTeamAccount({ name: "Provider team" })).account!;

    const sub = `invitee-${randomBytes(4).toString("hex")}`;
    const email = `${sub}@example.test`;
    const invite = await client(adminToken).inviteUserToTeamAccount({ accountId: team.id, email: email.toUpperCase(), role: AccountRole.VIEWER });
    const unverified = await tokenFor(sub, { email, email_verified: false });
    expect(await codeOf(client(unverified).acceptTeamAccountInvite({ token: invite.token }))).toBe(Code.PermissionDenied);
    const verified = await tokenFor(sub, { email, email_verified: true });
    expect((await client(verified).acceptTeamAccountInvite({ token: invite.token })).account?.role).toBe(AccountRole.VIEWER);

    // A password user with the same (verified) email: the invite is already used.
    const signUp = await t.client(AuthService).signUp({
      email,
      password: "correct horse battery staple",
      name: "Same Email",
    });
    await t.database.db.kysely.updateTable("users").set({ email_verified_at: new Date() }).where("id", "=", signUp.tokens!.userId).execute();
    expect(await codeOf(client(signUp.tokens!.accessToken).acceptTeamAccountInvite({ token: invite.token }))).toBe(Code.InvalidArgument);

    // Members of the team see the provider user with its stored claims (no admin API configured).
    const { users } = await client(adminToken).getTeamAccountMembers({ accountId: team.id });
    expect(users.find((u) => u.role === AccountRole.VIEWER)).toMatchObject({ email });
  });

  it("falls back to the stored verified email when the token has no email claim and UserInfo refuses the token", async () => {
    const admin = `admin-${randomBytes(4).toString("hex")}`;
    const adminToken = await tokenFor(admin, { email: `${admin}@example.test` });
    const team = (await client(adminToken).createTeamAccount({ name: "Fallback team" })).account!;
    const sub = `quiet-${randomBytes(4).toString("hex")}`;
    // First seen with a verified email (e.g. an ID-token login), later tokens carry none.
    await client(await tokenFor(sub, { email: `${sub}@example.test`, email_verified: true })).setUser({});
    const invite = await client(adminToken).inviteUserToTeamAccount({ accountId: team.id, email: `${sub}@example.test` });
    const quiet = await tokenFor(sub);
    expect((await client(quiet).acceptTeamAccountInvite({ token: invite.token })).account?.id).toBe(team.id);
    expect(t.server.logs.some((l) => l.includes("userinfo lookup failed"))).toBe(true);
    expect(t.server.logs.join("\n")).not.toContain(quiet);
  });
});

describe("UserInfo client contract", () => {
  let server: http.Server;
  let base = "";
  let discoveries = 0;
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/.well-known/openid-configuration") {
        discoveries++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            issuer: base,
            authorization_endpoint: `${base}/auth`,
            token_endpoint: `${base}/token`,
            jwks_uri: `${base}/jwks`,
            userinfo_endpoint: `${base}/userinfo`,
          }),
        );
        return;
      }
      if (req.url === "/userinfo") {
        const auth = req.headers.authorization ?? "";
        seen.push(auth);
        const token = auth.slice("Bearer ".length);
        if (token === "bad") {
          res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
          res.end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        const docs: Record<string, unknown> = {
          good: { sub: "u1", email: "Ada@Example.com", email_verified: true },
          unverified: { sub: "u1", email: "ada@example.com", email_verified: false },
          noemail: { sub: "u1", name: "Ada" },
          other: { sub: "someone-else", email: "x@example.com" },
        };
        res.end(JSON.stringify(docs[token] ?? {}));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("discovers the endpoint once and reads the caller's email with its own token", async () => {
    const c = createUserinfoClient({ baseUrl: base, issuer: base });
    expect(await c.email("good", "u1")).toEqual({ email: "Ada@Example.com", verified: true });
    expect(await c.email("unverified", "u1")).toEqual({ email: "ada@example.com", verified: false });
    expect(await c.email("noemail", "u1")).toBeUndefined();
    await expect(c.email("other", "u1")).rejects.toThrow(/sub does not match/);
    await expect(c.email("bad", "u1")).rejects.toThrow(/HTTP 401/);
    expect(discoveries).toBe(1);
    expect(seen[0]).toBe("Bearer good");
  });
});
