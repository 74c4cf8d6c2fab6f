/**
 * Several identity providers in one deployment (issue 17), end to end on PostgreSQL and
 * PGlite: password sign-in, a Google-shaped OpenID provider (a real oidc-provider,
 * login only, configured with Everruns' AUTH_GOOGLE_* and a test issuer), a GitHub-shaped
 * server (test/helpers/github-server.ts, configured with AUTH_GITHUB_*) and a
 * Keycloak-shaped OpenID provider (a second oidc-provider, from AUTH_PROVIDERS) whose JWT
 * access tokens are bearers and whose `realm_access.roles` makes instance admins.
 */
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService, ProviderKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { IdentityService } from "../packages/sdk/src/gen/tessera/v1/identity_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, useTessera, useTestProvider } from "./harness.js";
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, startGithubServer, type GithubTestServer } from "./helpers/github-server.js";
import { pkce, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_KID, TEST_RESOURCE } from "./helpers/oidc-provider.js";

const REDIRECT = "http://127.0.0.1/callback";

async function caught(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected an error");
}

describe.each(DB_KINDS)("several identity providers on %s", (db) => {
  // Google-shaped: Workspace accounts carry `hd`; "outsider-" accounts have another domain, "nohd-" none.
  const google = useTestProvider({
    accountClaims: (sub) =>
      sub.startsWith("outsider-") ? { email: `${sub}@elsewhere.test`, hd: "elsewhere.test" } : sub.startsWith("nohd-") ? {} : { hd: "example.test" },
  });
  // Keycloak-shaped: its own kid, email and realm roles in access tokens.
  const keycloak = useTestProvider({
    kid: "keycloak-key",
    emailInAccessTokens: true,
    accessTokenClaims: (sub) => ({ realm_access: { roles: sub.startsWith("admin-") ? ["user", "tessera-admin"] : ["user"] } }),
  });
  let github: GithubTestServer;
  beforeAll(async () => {
    github = await startGithubServer();
  });
  afterAll(async () => {
    await github?.close();
  });
  const t = useTessera({
    db,
    forwardedFor: true,
    env: () => ({
      AUTH_MODE: "full",
      AUTH_ALLOWED_REDIRECT_URIS: REDIRECT,
      AUTH_GOOGLE_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_GOOGLE_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_GOOGLE_ISSUER: google.issuer,
      AUTH_GOOGLE_ALLOWED_DOMAINS: "example.test",
      AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
      AUTH_GITHUB_CLIENT_SECRET: GITHUB_CLIENT_SECRET,
      AUTH_GITHUB_URL: github.url,
      AUTH_PROVIDERS: JSON.stringify([
        {
          id: "keycloak",
          kind: "oidc",
          name: "Keycloak",
          issuer: keycloak.issuer,
          client_id: TEST_CLIENT_ID,
          client_secret_env: "KEYCLOAK_CLIENT_SECRET",
          audiences: [TEST_RESOURCE],
          roles_claim: "realm_access.roles",
          admin_role: "tessera-admin",
        },
      ]),
      KEYCLOAK_CLIENT_SECRET: TEST_CLIENT_SECRET,
    }),
  });

  const unique = (prefix: string) => `${prefix}${randomBytes(4).toString("hex")}`;
  let githubIds = 1000;
  function githubUser(login: string, emails: { email: string; primary: boolean; verified: boolean }[]) {
    github.addUser({ id: ++githubIds, login, name: `GitHub ${login}`, emails });
    return githubIds;
  }

  /** A whole provider login through GetAuthorizeUrl and ExchangeCode; `as` follows the authorization URL. */
  async function providerLogin(
    providerId: string,
    as: (url: string) => Promise<{ code: string; state: string | null; iss?: string | null }>,
    opts: { token?: string; link?: boolean } = {},
  ) {
    const p = pkce();
    const state = randomBytes(16).toString("base64url");
    const { url } = await t
      .client(AuthService, { token: opts.token })
      .getAuthorizeUrl({ redirectUri: REDIRECT, state, codeChallenge: p.challenge, providerId, link: opts.link });
    const cb = await as(url);
    expect(cb.state).toBe(state);
    const res = await t.client(AuthService).exchangeCode({ code: cb.code, state, redirectUri: REDIRECT, codeVerifier: p.verifier, iss: cb.iss ?? "" });
    return res.tokens!;
  }
  const viaGoogle = (sub: string, opts?: { token?: string; link?: boolean }) => providerLogin("google", (u) => google.authorize(u, sub), opts);
  const viaKeycloak = (sub: string, opts?: { token?: string; link?: boolean }) => providerLogin("keycloak", (u) => keycloak.authorize(u, sub), opts);
  const viaGithub = (login: string, opts?: { token?: string; link?: boolean }) => providerLogin("github", (u) => github.authorize(u, login), opts);

  async function audits(action: string, reason?: string): Promise<number> {
    await new Promise((r) => setTimeout(r, 0));
    let q = t.database.db.kysely
      .selectFrom("audit_events")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("action", "=", action);
    if (reason !== undefined) q = q.where(({ eb, ref }) => eb(ref("metadata", "->>").key("reason" as never), "=", reason));
    return Number((await q.executeTakeFirstOrThrow()).n);
  }
  /** Polls until `count()` reaches `n` (the audit writer records in the background; at most 5 s). */
  async function eventually(count: () => Promise<number>, n: number): Promise<void> {
    const until = Date.now() + 5000;
    for (;;) {
      const got = await count();
      if (got >= n || Date.now() > until) return void expect(got).toBeGreaterThanOrEqual(n);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("GetAuthConfig lists password, sign-up and every provider (also over HTTP GET)", async () => {
    const cfg = await t.client(AuthService).getAuthConfig({});
    expect(cfg.passwordLoginEnabled).toBe(true);
    expect(cfg.signupEnabled).toBe(true);
    expect(cfg.oidcProviders.map((p) => [p.id, p.name, p.kind])).toEqual([
      ["keycloak", "Keycloak", ProviderKind.OIDC],
      ["google", "Google", ProviderKind.OIDC],
      ["github", "GitHub", ProviderKind.GITHUB],
    ]);
    expect(cfg.oidcProviders.find((p) => p.id === "github")?.issuer).toBe(github.url);
    const res = await fetch(`${t.baseUrl}/tessera.v1.AuthService/GetAuthConfig?connect=v1&encoding=json&message=%7B%7D`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { passwordLoginEnabled: boolean; oidcProviders: { id: string; kind: string }[] };
    expect(body.passwordLoginEnabled).toBe(true);
    expect(body.oidcProviders.map((p) => `${p.id}:${p.kind}`)).toEqual([
      "keycloak:PROVIDER_KIND_OIDC",
      "google:PROVIDER_KIND_OIDC",
      "github:PROVIDER_KIND_GITHUB",
    ]);
    expect(JSON.stringify(body)).not.toContain(TEST_CLIENT_SECRET);
  });

  it("answers GET /v1/auth/config in the shape Everruns' UI reads", async () => {
    const res = await fetch(`${t.baseUrl}/v1/auth/config`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mode: "full", password_auth_enabled: true, oauth_providers: ["keycloak", "google", "github"], signup_enabled: true });
    const post = await fetch(`${t.baseUrl}/v1/auth/config`, { method: "POST" });
    expect(post.status).toBe(405);
    await post.text();
  });

  it("signs users in with a password and through each provider", async () => {
    const pw = await t.signUp();
    expect((await t.client(AuthService, { token: pw.accessToken }).checkToken({})).userId).toBe(pw.userId);

    const g = await viaGoogle(unique("gina-"));
    const k = await viaKeycloak(unique("kim-"));
    const login = unique("octo-");
    githubUser(login, [{ email: `${login}@example.test`, primary: true, verified: true }]);
    const h = await viaGithub(login);
    expect(new Set([pw.userId, g.userId, k.userId, h.userId]).size).toBe(4);
    for (const tokens of [g, k, h]) expect((await t.client(AuthService, { token: tokens.accessToken }).checkToken({})).userId).toBe(tokens.userId);
    // The same GitHub account signs in as the same user again.
    expect((await viaGithub(login)).userId).toBe(h.userId);
    const me = await t.client(UserAccountService, { token: h.accessToken }).getUser({});
    expect(me.email).toBe(`${login}@example.test`);
  });

  it("accepts the Keycloak provider's access tokens as bearers, and no Google token", async () => {
    const sub = unique("bearer-");
    const { accessToken, idToken } = await keycloak.tokensFor(sub);
    const who = await t.client(AuthService, { token: accessToken }).checkToken({});
    expect(who.userId).not.toBe("");
    // ID tokens never authenticate.
    expect((await caught(t.client(AuthService, { token: idToken }).checkToken({}))).code).toBe(Code.Unauthenticated);
    // The Google-shaped provider is login only: its access tokens are no bearer anywhere.
    const fromGoogle = await google.accessTokenFor(unique("gbearer-"));
    expect((await caught(t.client(AuthService, { token: fromGoogle }).checkToken({}))).code).toBe(Code.Unauthenticated);
  });

  it("review: a narrowed allow-list stops an existing identity's bearer tokens too, not only new ones", async () => {
    const sub = unique("narrowed-");
    const { accessToken } = await keycloak.tokensFor(sub);
    expect((await t.client(AuthService, { token: accessToken }).checkToken({})).userId).not.toBe("");
    // The same deployment, its Keycloak now limited to another domain: the known identity's token is refused.
    const narrowed = await t.startServer({
      env: {
        AUTH_MODE: "full",
        AUTH_ALLOWED_REDIRECT_URIS: REDIRECT,
        KEYCLOAK_CLIENT_SECRET: TEST_CLIENT_SECRET,
        AUTH_PROVIDERS: JSON.stringify([
          {
            id: "keycloak",
            kind: "oidc",
            name: "Keycloak",
            issuer: keycloak.issuer,
            client_id: TEST_CLIENT_ID,
            client_secret_env: "KEYCLOAK_CLIENT_SECRET",
            audiences: [TEST_RESOURCE],
            allowed_domains: ["elsewhere.test"],
          },
        ]),
      },
    });
    const e = await caught(t.clientOf(narrowed, AuthService, { token: accessToken }).checkToken({}));
    expect(e.code).toBe(Code.PermissionDenied);
    await eventually(() => audits("auth.oidc_login.failure", "domain_not_allowed"), 1);
  });

  it("routes a token by iss to that provider's keys only (cross-issuer confusion)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: keycloak.issuer, aud: TEST_RESOURCE, sub: unique("mallory-"), exp: now + 300, iat: now, scope: "api:read" };
    const googleFetches = google.jwksRequests();
    // iss of Keycloak, Keycloak's kid, signed with the key Google publishes: Keycloak's key refuses the signature.
    const wrongKey = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "keycloak-key", typ: "at+jwt" }).sign(google.privateKey);
    const e1 = await caught(t.client(AuthService, { token: wrongKey }).checkToken({}));
    expect(e1.code).toBe(Code.Unauthenticated);
    expect(e1.rawMessage).toBe("invalid token signature");
    // iss of Keycloak with Google's kid: Keycloak's key set has no such key, and Google's keys are never asked.
    const foreignKid = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: TEST_KID, typ: "at+jwt" }).sign(google.privateKey);
    const e2 = await caught(t.client(AuthService, { token: foreignKid }).checkToken({}));
    expect(e2.code).toBe(Code.Unauthenticated);
    expect(e2.rawMessage).toBe("no matching provider key");
    // The same token claiming Google's issuer: Google accepts no bearers, so nobody checks it.
    const asGoogle = await new SignJWT({ ...claims, iss: google.issuer })
      .setProtectedHeader({ alg: "RS256", kid: TEST_KID, typ: "at+jwt" })
      .sign(google.privateKey);
    expect((await caught(t.client(AuthService, { token: asGoogle }).checkToken({}))).rawMessage).toBe("invalid token");
    expect(google.jwksRequests()).toBe(googleFetches);
    const provisioned = await t.database.db.kysely.selectFrom("identities").select("id").where("subject", "=", claims.sub).execute();
    expect(provisioned).toEqual([]);
  });

  it("makes instance admins from the Keycloak realm role, and only them", async () => {
    const admin = await t.client(AuthService, { token: await keycloak.accessTokenFor(unique("admin-")) });
    const plain = await t.client(AuthService, { token: await keycloak.accessTokenFor(unique("plain-")) });
    const target = await t.signUp();
    await admin.revokeUserSessions({ userId: target.userId });
    expect((await caught(plain.revokeUserSessions({ userId: target.userId }))).code).toBe(Code.PermissionDenied);
    await eventually(() => audits("user.instance_admin.granted"), 1);
  });

  it("refuses Google accounts outside the allowed domains, without hd, or with an unverified email, and audits each", async () => {
    for (const [prefix, reason] of [
      ["outsider-", "domain_not_allowed"],
      ["nohd-", "hosted_domain_not_allowed"],
      ["unverified-", "email_unverified"],
    ] as const) {
      const before = await audits("auth.oidc_login.failure", reason);
      const e = await caught(viaGoogle(unique(prefix)));
      expect(e.code, prefix).toBe(Code.PermissionDenied);
      await eventually(() => audits("auth.oidc_login.failure", reason), before + 1);
    }
    const users = await t.database.db.kysely.selectFrom("users").select("id").where("email_normalized", "like", "outsider-%").execute();
    expect(users).toEqual([]);
  });

  it("signs in with GitHub only through a verified primary email", async () => {
    const unverified = unique("unv-");
    githubUser(unverified, [
      { email: `${unverified}@example.test`, primary: true, verified: false },
      { email: `${unverified}@other.test`, primary: false, verified: true },
    ]);
    const before = await audits("auth.oidc_login.failure", "email_unverified");
    const e = await caught(viaGithub(unverified));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(e.rawMessage).toMatch(/not verified/);
    await eventually(() => audits("auth.oidc_login.failure", "email_unverified"), before + 1);
    const noEmail = unique("none-");
    githubUser(noEmail, []);
    expect((await caught(viaGithub(noEmail))).code).toBe(Code.PermissionDenied);
  });

  it("never links by email: a first provider login with an existing user's verified email is told to sign in and link", async () => {
    const sub = unique("carol-");
    const carol = await t.signUp({ email: `${sub}@example.test` });
    const e = await caught(viaGoogle(sub));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(e.rawMessage).toMatch(/sign in to it, then link Google/);
    // Signed in, Carol links Google explicitly; then Google signs her in.
    const linked = await viaGoogle(sub, { token: carol.accessToken, link: true });
    expect(linked.userId).toBe(carol.userId);
    expect((await viaGoogle(sub)).userId).toBe(carol.userId);
    const ids = await t.client(IdentityService, { token: carol.accessToken }).listIdentities({});
    expect(ids.hasPassword).toBe(true);
    expect(ids.identities.map((i) => [i.providerId, i.subject, i.emailVerified])).toEqual([["google", sub, true]]);
    // Linking needs a signed-in human.
    expect((await caught(viaGoogle(sub, { link: true }))).code).toBe(Code.Unauthenticated);
  });

  it("refuses to link an identity that belongs to another user", async () => {
    const login = unique("taken-");
    githubUser(login, [{ email: `${login}@example.test`, primary: true, verified: true }]);
    const owner = await viaGithub(login);
    const other = await t.signUp();
    const e = await caught(viaGithub(login, { token: other.accessToken, link: true }));
    expect(e.code).toBe(Code.AlreadyExists);
    expect((await viaGithub(login)).userId).toBe(owner.userId);
  });

  it("lists and unlinks identities, never the last way to sign in", async () => {
    const login = unique("solo-");
    githubUser(login, [{ email: `${login}@example.test`, primary: true, verified: true }]);
    const solo = await viaGithub(login);
    const ids = t.client(IdentityService, { token: solo.accessToken });
    const [only] = (await ids.listIdentities({})).identities;
    expect(only?.providerId).toBe("github");
    const e = await caught(ids.unlinkIdentity({ id: only!.id }));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(e.rawMessage).toMatch(/last way to sign in/);
    // With Keycloak linked too, GitHub can go; then Keycloak is the last one.
    await viaKeycloak(unique("solo-kc-"), { token: solo.accessToken, link: true });
    await ids.unlinkIdentity({ id: only!.id });
    const left = (await ids.listIdentities({})).identities;
    expect(left.map((i) => i.providerId)).toEqual(["keycloak"]);
    expect((await caught(ids.unlinkIdentity({ id: left[0]!.id }))).code).toBe(Code.FailedPrecondition);
    // Another user's identity is not found.
    const stranger = await t.signUp();
    expect((await caught(t.client(IdentityService, { token: stranger.accessToken }).unlinkIdentity({ id: left[0]!.id }))).code).toBe(Code.NotFound);
    // The unlinked GitHub account now signs in as a new user (its email is the solo user's: refused until linked).
    expect((await caught(viaGithub(login))).code).toBe(Code.FailedPrecondition);
  });

  it("lets exactly one of two concurrent links of one identity win", async () => {
    const login = unique("race-");
    const id = githubUser(login, [{ email: `${login}@racers.test`, primary: true, verified: true }]);
    const [a, b] = [await t.signUp(), await t.signUp()];
    const start = async (token: string) => {
      const p = pkce();
      const state = randomBytes(16).toString("base64url");
      const { url } = await t
        .client(AuthService, { token })
        .getAuthorizeUrl({ redirectUri: REDIRECT, state, codeChallenge: p.challenge, providerId: "github", link: true });
      const cb = await github.authorize(url, login);
      return () => t.client(AuthService).exchangeCode({ code: cb.code, state, redirectUri: REDIRECT, codeVerifier: p.verifier });
    };
    const [ea, eb] = [await start(a.accessToken), await start(b.accessToken)];
    const results = await Promise.allSettled([ea(), eb()]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((r) => ConnectError.from(r.reason).code)).toEqual([Code.AlreadyExists]);
    const rows = await t.database.db.kysely
      .selectFrom("identities")
      .select("user_id")
      .where("issuer", "=", github.url)
      .where("subject", "=", String(id))
      .execute();
    expect(rows).toHaveLength(1);
    expect([a.userId, b.userId]).toContain(rows[0]!.user_id);
  });

  it("asks for provider_id when there are several and none is the default", async () => {
    const c = t.client(AuthService);
    const base = { redirectUri: REDIRECT, state: unique("s-"), codeChallenge: pkce().challenge };
    expect((await caught(c.getAuthorizeUrl({ ...base, providerId: "" }))).rawMessage).toMatch(/provider_id is required: one of keycloak, google, github/);
    expect((await caught(c.getAuthorizeUrl({ ...base, providerId: "nope" }))).code).toBe(Code.InvalidArgument);
    // ExchangeCode naming another provider than the login's is refused.
    const p = pkce();
    const state = unique("x-");
    const { url } = await c.getAuthorizeUrl({ redirectUri: REDIRECT, state, codeChallenge: p.challenge, providerId: "google" });
    const cb = await google.authorize(url, unique("gx-"));
    const e = await caught(c.exchangeCode({ code: cb.code, state, redirectUri: REDIRECT, codeVerifier: p.verifier, iss: cb.iss ?? "", providerId: "github" }));
    expect(e.code).toBe(Code.InvalidArgument);
  });
});
