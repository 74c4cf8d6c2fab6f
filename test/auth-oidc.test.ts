/**
 * OpenID Connect against a real provider (oidc-provider) started in the test:
 * provider bearer tokens accepted by CheckToken in AUTH_MODE=full, every RFC 8725
 * hardening case rejected with Unauthenticated, first-time provisioning under
 * concurrency, and the headless authorization-code + PKCE login through
 * GetAuthorizeUrl / ExchangeCode with its replay, mix-up and redirect-URI defences.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "./harness.js";
import { Code } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { provisionIdentity } from "../packages/server/src/store/identities.js";
import { pkce, startTestProvider, TEST_ACR_BASIC, TEST_ACR_MFA, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_KID, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { codeOf as code } from "./helpers/outcome.js";

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

describe("OpenID Connect provider (postgres)", () => {
  let offsetMs = 0;
  // A local server that counts every request: jku/x5u must never be fetched.
  let hits = 0;
  let trap: http.Server;
  let trapUrl: string;

  const provider = useTestProvider();
  beforeAll(async () => {
    trap = http.createServer((_req, res) => {
      hits++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [] }));
    });
    await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
    trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    trap?.closeAllConnections();
    await new Promise<void>((r) => (trap ? trap.close(() => r()) : r()));
  });
  const t = useTessera({
    clock: () => new Date(Date.now() + offsetMs),
    env: () => ({
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: `${TEST_RESOURCE}, urn:other`,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb https://app.example.test/callback http://[::1]/cb",
    }),
  });
  beforeEach(() => {
    offsetMs = 0;
  });

  const check = (token: string) => t.server.client(AuthService, { token }).checkToken({});

  function claims(extra: JWTPayload = {}): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    return { iss: provider.issuer, aud: TEST_RESOURCE, sub: "crafted-user", iat: now, exp: now + 600, ...extra };
  }
  async function signWithProviderKey(payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: TEST_KID, typ: "at+jwt", ...header }).sign(provider.privateKey);
  }

  describe("bearer tokens", () => {
    it("accepts an access token from the provider in CheckToken and provisions the user", async () => {
      const token = await provider.accessTokenFor("alice");
      const res = await check(token);
      expect(res.principalKind).toBe(PrincipalKind.OIDC_USER);
      expect(res.userId).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.expiresAt).toBeDefined();
      const identity = await t.database.db.kysely.selectFrom("identities").selectAll().where("subject", "=", "alice").executeTakeFirstOrThrow();
      expect(identity.user_id).toBe(res.userId);
      expect(identity.issuer).toBe(provider.issuer);
      // Warm path: the same token again (cached), same user.
      expect((await check(token)).userId).toBe(res.userId);
      // A second token of the same subject maps to the same user.
      expect((await check(await provider.accessTokenFor("alice"))).userId).toBe(res.userId);
    });

    it("accepts a client-credentials JWT (sub = client id) and a token signed with the provider key", async () => {
      expect((await check(await provider.clientCredentialsToken())).principalKind).toBe(PrincipalKind.OIDC_USER);
      expect((await check(await signWithProviderKey(claims()))).principalKind).toBe(PrincipalKind.OIDC_USER);
      // aud may be an array containing one of AUTH_AUDIENCE.
      expect(await code(check(await signWithProviderKey(claims({ aud: ["urn:x", "urn:other"] }))))).toBe("ok");
    });

    it("provisions the user exactly once under 20 concurrent first requests", async () => {
      const token = await provider.accessTokenFor("racer");
      const db = t.database.db.kysely;
      const countUsers = async () =>
        Number(
          (
            await db
              .selectFrom("users")
              .select((eb) => eb.fn.countAll().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const usersBefore = await countUsers();
      const results = await Promise.all(Array.from({ length: 20 }, () => check(token)));
      expect(new Set(results.map((r) => r.userId)).size).toBe(1);
      const ids = await db.selectFrom("identities").select("user_id").where("subject", "=", "racer").execute();
      expect(ids).toHaveLength(1);
      // Exactly one new user: the losing racers left no orphan rows.
      expect(await countUsers()).toBe(usersBefore + 1);
    });

    it("rejects a disabled user", async () => {
      const db = t.database.db.kysely;
      const user = await provisionIdentity(db, provider.issuer, "disabled-user", { email: null, name: null, image: null });
      await db.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", user.userId).execute();
      expect(await code(check(await signWithProviderKey(claims({ sub: "disabled-user" }))))).toBe(Code.Unauthenticated);
    });

    it("refuses a user disabled while holding a cached token once the 30 s user cache lapses", async () => {
      const token = await signWithProviderKey(claims({ sub: "later-disabled" }));
      const first = await check(token);
      await t.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", first.userId).execute();
      offsetMs = 31_000;
      expect(await code(check(token))).toBe(Code.Unauthenticated);
    });

    describe("hardening (RFC 8725): each rejected with Unauthenticated", () => {
      const cases: Array<[string, () => Promise<string>]> = [
        ["alg none", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims())}.`],
        ["alg none with the provider's kid", async () => `${b64({ alg: "none", kid: TEST_KID })}.${b64(claims())}.`],
        [
          "HS256 signed with the provider's public key (PEM) as secret",
          async () => new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: TEST_KID }).sign(new TextEncoder().encode(provider.publicPem)),
        ],
        [
          "HS256 signed with the provider's public JWK (JSON) as secret",
          async () =>
            new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: TEST_KID }).sign(new TextEncoder().encode(JSON.stringify(provider.publicJwk))),
        ],
        [
          "signed by another RSA key with the same kid",
          async () => {
            const { privateKey } = await generateKeyPair("RS256");
            return new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: TEST_KID }).sign(privateKey);
          },
        ],
        [
          "tampered payload",
          async () => {
            const [h, , s] = (await signWithProviderKey(claims())).split(".");
            return `${h}.${b64(claims({ sub: "someone-else" }))}.${s}`;
          },
        ],
        [
          "stripped signature",
          async () => {
            const [h, p] = (await signWithProviderKey(claims())).split(".");
            return `${h}.${p}.`;
          },
        ],
        [
          "expired (beyond the 60 s skew)",
          async () => signWithProviderKey(claims({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 120 })),
        ],
        ["not yet valid (nbf in the future)", async () => signWithProviderKey(claims({ nbf: Math.floor(Date.now() / 1000) + 300 }))],
        ["wrong issuer", async () => signWithProviderKey(claims({ iss: "https://evil.example.test" }))],
        ["issuer with a trailing slash", async () => signWithProviderKey(claims({ iss: `${provider.issuer}/` }))],
        ["wrong audience", async () => signWithProviderKey(claims({ aud: "urn:someone-else" }))],
        ["missing audience", async () => signWithProviderKey(claims({ aud: undefined }))],
        ["missing sub", async () => signWithProviderKey(claims({ sub: undefined }))],
        ["missing exp", async () => signWithProviderKey(claims({ exp: undefined }))],
        [
          "RS256 token with alg relabelled RS512",
          async () => {
            const [, p, s] = (await signWithProviderKey(claims())).split(".");
            return `${b64({ alg: "RS512", kid: TEST_KID })}.${p}.${s}`;
          },
        ],
      ];
      it.each(cases)("%s", async (_name, make) => {
        expect(await code(check(await make()))).toBe(Code.Unauthenticated);
      });

      it("ignores jku, x5u and embedded jwk headers (never fetched, never trusted)", async () => {
        const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
        const jwk = { ...(await exportJWK(publicKey)), kid: "attacker", alg: "RS256" };
        const before = hits;
        for (const header of [
          { kid: "attacker", jku: `${trapUrl}/jwks.json` },
          { kid: "attacker", x5u: `${trapUrl}/cert.pem` },
          { kid: "attacker", jwk },
          { jwk },
          { kid: TEST_KID, jku: `${trapUrl}/jwks.json`, jwk },
          { kid: "attacker", x5c: [Buffer.from("not a certificate").toString("base64")], x5u: `${trapUrl}/chain.pem` },
        ]) {
          const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", ...header }).sign(privateKey);
          expect(await code(check(token))).toBe(Code.Unauthenticated);
        }
        expect(hits - before).toBe(0);
      });

      it("refetches the JWKS for unknown kids at most once per 30 s", async () => {
        const { privateKey } = await generateKeyPair("RS256");
        const before = provider.jwksRequests();
        expect(before).toBeGreaterThanOrEqual(1); // fetched once at startup
        for (let i = 0; i < 10; i++) {
          const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: `unknown-${i}` }).sign(privateKey);
          expect(await code(check(token))).toBe(Code.Unauthenticated);
        }
        expect(provider.jwksRequests() - before).toBeLessThanOrEqual(1);
      });

      it.each(["../../etc/passwd", "' OR 1=1 --", "/dev/zero", "%00"])("a kid of %j never reaches a file path or SQL", async (kid) => {
        const { privateKey } = await generateKeyPair("RS256");
        const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid }).sign(privateKey);
        expect(await code(check(token))).toBe(Code.Unauthenticated);
        // Same kid with the real key: still only looked up in the in-memory key set.
        expect(await code(check(await signWithProviderKey(claims(), { kid })))).toBe(Code.Unauthenticated);
      });

      it("honours the server clock (deps.clock) with 60 s of skew", async () => {
        const token = await signWithProviderKey(claims({ sub: "clocked", exp: Math.floor(Date.now() / 1000) + 30 }));
        expect(await code(check(token))).toBe("ok");
        offsetMs = 10 * 60 * 1000;
        expect(await code(check(token))).toBe(Code.Unauthenticated);
      });
    });
  });

  describe("login through the provider (authorization code + PKCE)", () => {
    const redirectUri = () => `http://127.0.0.1:${provider.port}/cb`;
    const client = () => t.server.client(AuthService);

    async function startLogin(subject: string) {
      const p = pkce();
      const state = randomBytes(16).toString("base64url");
      const { url } = await client().getAuthorizeUrl({ redirectUri: redirectUri(), state, codeChallenge: p.challenge });
      const result = await provider.authorize(url, subject);
      return { ...result, verifier: p.verifier, state, url };
    }

    async function auditCount(action: string): Promise<number> {
      await t.server.app.deps.audit.flush();
      const rows = await t.database.db.kysely.selectFrom("audit_events").select("id").where("action", "=", action).execute();
      return rows.length;
    }

    it("builds the authorization URL from discovery with nonce and S256, never the secret", async () => {
      const p = pkce();
      const { url } = await client().getAuthorizeUrl({ redirectUri: redirectUri(), state: "s-1234", codeChallenge: p.challenge });
      const u = new URL(url);
      expect(`${u.origin}${u.pathname}`).toBe(`${provider.issuer}/auth`);
      expect(u.searchParams.get("response_type")).toBe("code");
      expect(u.searchParams.get("client_id")).toBe(TEST_CLIENT_ID);
      expect(u.searchParams.get("redirect_uri")).toBe(redirectUri());
      expect(u.searchParams.get("scope")).toBe("openid profile email");
      expect(u.searchParams.get("state")).toBe("s-1234");
      expect(u.searchParams.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(u.searchParams.get("code_challenge")).toBe(p.challenge);
      expect(u.searchParams.get("code_challenge_method")).toBe("S256");
      expect(url).not.toContain(TEST_CLIENT_SECRET);
      const tx = await t.database.db.kysely
        .selectFrom("login_transactions")
        .selectAll()
        .where("nonce", "=", u.searchParams.get("nonce")!)
        .executeTakeFirstOrThrow();
      expect(tx.state_hash).not.toBe("s-1234");
      expect(tx.issuer).toBe(provider.issuer);
      expect(tx.expires_at.getTime() - tx.created_at.getTime()).toBe(10 * 60 * 1000);
    });

    it("exchanges the code for Tessera tokens that CheckToken accepts (no-store), then refuses a replay", async () => {
      const login = await startLogin("bob");
      expect(login.state).toBe(login.state);
      expect(login.iss).toBe(provider.issuer);
      const headers: Headers[] = [];
      const req = { code: login.code, redirectUri: redirectUri(), codeVerifier: login.verifier, state: login.state!, iss: login.iss! };
      const res = await client().exchangeCode(req, { onHeader: (h) => headers.push(h) });
      expect(headers[0]?.get("cache-control")).toBe("no-store");
      const tokens = res.tokens!;
      expect(tokens.tokenType).toBe("Bearer");
      expect(tokens.refreshToken).not.toBe("");
      const who = await check(tokens.accessToken);
      expect(who.userId).toBe(tokens.userId);
      expect(who.principalKind).toBe(PrincipalKind.USER);
      const identity = await t.database.db.kysely.selectFrom("identities").selectAll().where("subject", "=", "bob").executeTakeFirstOrThrow();
      expect(identity.user_id).toBe(tokens.userId);
      expect(identity.email).toBe("bob@example.test");
      // The same subject through a provider bearer token is the same user.
      expect((await check(await provider.accessTokenFor("bob"))).userId).toBe(tokens.userId);
      expect(await auditCount("auth.oidc_login.success")).toBeGreaterThanOrEqual(1);

      const replays = await auditCount("auth.oidc.replay");
      expect(await code(client().exchangeCode(req))).toBe(Code.Unauthenticated);
      expect(await auditCount("auth.oidc.replay")).toBe(replays + 1);
    });

    it("aborts a mix-up: an iss response parameter of another issuer, or a missing one", async () => {
      const before = await auditCount("auth.oidc.mixup");
      const a = await startLogin("carol");
      expect(
        await code(
          client().exchangeCode({ code: a.code, redirectUri: redirectUri(), codeVerifier: a.verifier, state: a.state!, iss: "https://evil.example.test" }),
        ),
      ).toBe(Code.Unauthenticated);
      const b = await startLogin("carol");
      // The provider advertises authorization_response_iss_parameter_supported: iss is then required.
      expect(await code(client().exchangeCode({ code: b.code, redirectUri: redirectUri(), codeVerifier: b.verifier, state: b.state!, iss: "" }))).toBe(
        Code.Unauthenticated,
      );
      expect(await auditCount("auth.oidc.mixup")).toBe(before + 2);
      // Both transactions were consumed: the right iss now is a replay.
      expect(
        await code(client().exchangeCode({ code: a.code, redirectUri: redirectUri(), codeVerifier: a.verifier, state: a.state!, iss: provider.issuer })),
      ).toBe(Code.Unauthenticated);
    });

    it("rejects a wrong PKCE verifier, a different redirect_uri and an unknown state", async () => {
      const a = await startLogin("dave");
      expect(await code(client().exchangeCode({ code: a.code, redirectUri: redirectUri(), codeVerifier: pkce().verifier, state: a.state!, iss: a.iss! }))).toBe(
        Code.InvalidArgument,
      );
      const b = await startLogin("dave");
      expect(
        await code(
          client().exchangeCode({ code: b.code, redirectUri: "https://app.example.test/callback", codeVerifier: b.verifier, state: b.state!, iss: b.iss! }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(await code(client().exchangeCode({ code: "x", redirectUri: redirectUri(), codeVerifier: pkce().verifier, state: "never-issued", iss: "" }))).toBe(
        Code.InvalidArgument,
      );
    });

    it("rejects an expired login transaction (10 minutes) with a replay audit event", async () => {
      const a = await startLogin("erin");
      const before = await auditCount("auth.oidc.replay");
      offsetMs = 11 * 60 * 1000;
      expect(await code(client().exchangeCode({ code: a.code, redirectUri: redirectUri(), codeVerifier: a.verifier, state: a.state!, iss: a.iss! }))).toBe(
        Code.Unauthenticated,
      );
      expect(await auditCount("auth.oidc.replay")).toBe(before + 1);
    });

    it("refuses to log in a disabled user", async () => {
      const first = await startLogin("frank");
      const ok = await client().exchangeCode({
        code: first.code,
        redirectUri: redirectUri(),
        codeVerifier: first.verifier,
        state: first.state!,
        iss: first.iss!,
      });
      await t.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", ok.tokens!.userId).execute();
      const again = await startLogin("frank");
      expect(
        await code(client().exchangeCode({ code: again.code, redirectUri: redirectUri(), codeVerifier: again.verifier, state: again.state!, iss: again.iss! })),
      ).toBe(Code.Unauthenticated);
    });

    it("authenticates with client_secret_post when the provider supports only that", async () => {
      const postProvider = await startTestProvider({ clientAuthMethod: "client_secret_post" });
      const postServer = await t.startServer({
        clock: () => new Date(),
        env: {
          AUTH_MODE: "full",
          AUTH_BASEURL: postProvider.issuer,
          AUTH_AUDIENCE: TEST_RESOURCE,
          AUTH_CLIENT_ID: TEST_CLIENT_ID,
          AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
          AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
        },
      });
      try {
        const c = postServer.client(AuthService);
        const p = pkce();
        const state = randomBytes(16).toString("base64url");
        const redirect = `http://127.0.0.1:${postProvider.port}/cb`;
        const { url } = await c.getAuthorizeUrl({ redirectUri: redirect, state, codeChallenge: p.challenge });
        const r = await postProvider.authorize(url, "post-user");
        const res = await c.exchangeCode({ code: r.code, redirectUri: redirect, codeVerifier: p.verifier, state, iss: r.iss! });
        expect((await postServer.client(AuthService, { token: res.tokens!.accessToken }).checkToken({})).userId).toBe(res.tokens!.userId);
      } finally {
        await postServer.close();
        await postProvider.close();
      }
    });

    it("allows only allow-listed redirect URIs; loopback may vary its port only", async () => {
      const challenge = pkce().challenge;
      const tryUri = (redirectUri: string) => code(client().getAuthorizeUrl({ redirectUri, state: randomBytes(8).toString("hex"), codeChallenge: challenge }));
      for (const ok of ["https://app.example.test/callback", "http://127.0.0.1/cb", "http://127.0.0.1:53682/cb", "http://[::1]:8400/cb"]) {
        expect(await tryUri(ok), ok).toBe("ok");
      }
      for (const bad of [
        "https://app.example.test/callback/",
        "https://app.example.test/callback?x=1",
        "https://app.example.test:8443/callback",
        "http://app.example.test/callback",
        "https://evil.example.test/callback",
        "http://localhost:53682/cb",
        "http://127.0.0.1:53682/cb/",
        "http://127.0.0.1:53682/other",
        "http://127.0.0.1:53682/cb?next=https://evil",
        "http://127.0.0.1:53682/cb#x",
        "http://user@127.0.0.1:53682/cb",
        "http://127.0.0.1:53682/x/../cb",
        "http://127.0.0.2:53682/cb",
        "https://127.0.0.1:53682/cb",
        "",
      ]) {
        expect(await tryUri(bad), bad).toBe(Code.InvalidArgument);
      }
    });

    it("requires state and a 43-character S256 code_challenge, and only the default provider", async () => {
      const ok = { redirectUri: "http://127.0.0.1/cb", state: "abc", codeChallenge: pkce().challenge };
      expect(await code(client().getAuthorizeUrl({ ...ok, state: "" }))).toBe(Code.InvalidArgument);
      expect(await code(client().getAuthorizeUrl({ ...ok, codeChallenge: "short" }))).toBe(Code.InvalidArgument);
      expect(await code(client().getAuthorizeUrl({ ...ok, codeChallenge: `${"a".repeat(42)}=` }))).toBe(Code.InvalidArgument);
      expect(await code(client().getAuthorizeUrl({ ...ok, providerId: "other" }))).toBe(Code.InvalidArgument);
      expect(await code(client().getAuthorizeUrl({ ...ok, providerId: "default" }))).toBe("ok");
      // The same state twice is refused (its hash is unique).
      expect(await code(client().getAuthorizeUrl({ ...ok, providerId: "default" }))).toBe(Code.InvalidArgument);
    });
  });
});

describe("OpenID Connect provider on pglite, with AUTH_REQUIRED_ACR", () => {
  const provider = useTestProvider();
  const t = useTessera({
    db: "pglite",
    env: () => ({
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
      AUTH_SIGNATURE_ALGORITHM: "RS256",
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_REQUIRED_ACR: TEST_ACR_MFA,
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
    }),
  });

  const check = (token: string) => t.server.client(AuthService, { token }).checkToken({});
  const sign = (payload: JWTPayload) =>
    new SignJWT({ iss: provider.issuer, aud: TEST_RESOURCE, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, ...payload })
      .setProtectedHeader({ alg: "RS256", kid: TEST_KID })
      .sign(provider.privateKey);

  it("provisions once under 20 concurrent first requests on pglite", async () => {
    const token = await sign({ sub: "lite-racer", acr: TEST_ACR_MFA });
    const results = await Promise.all(Array.from({ length: 20 }, () => check(token)));
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    const ids = await t.database.db.kysely.selectFrom("identities").select("user_id").where("subject", "=", "lite-racer").execute();
    expect(ids).toHaveLength(1);
  });

  it("rejects provider tokens without the required acr", async () => {
    expect(await code(check(await provider.accessTokenFor("mfa-ivy")))).toBe(Code.Unauthenticated);
    expect(await code(check(await sign({ sub: "weak", acr: TEST_ACR_BASIC })))).toBe(Code.Unauthenticated);
    expect(await code(check(await sign({ sub: "strong", acr: TEST_ACR_MFA })))).toBe("ok");
  });

  it("asks for the acr at login and refuses an ID token without it", async () => {
    const redirectUri = `http://127.0.0.1:${provider.port}/cb`;
    const client = t.server.client(AuthService);
    const login = async (subject: string) => {
      const p = pkce();
      const state = randomBytes(16).toString("base64url");
      const { url } = await client.getAuthorizeUrl({ redirectUri, state, codeChallenge: p.challenge });
      expect(new URL(url).searchParams.get("acr_values")).toBe(TEST_ACR_MFA);
      const r = await provider.authorize(url, subject);
      return client.exchangeCode({ code: r.code, redirectUri, codeVerifier: p.verifier, state, iss: r.iss ?? "" });
    };
    const ok = await login("mfa-gina");
    expect((await check(ok.tokens!.accessToken)).userId).toBe(ok.tokens!.userId);
    expect(await code(login("plain-hank"))).toBe(Code.Unauthenticated);
  });

  it("never writes the client secret, codes or tokens to the logs", async () => {
    const logs = t.server.logs.join("\n");
    expect(logs).not.toContain(TEST_CLIENT_SECRET);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  });

  it("refuses to start when the discovery issuer differs from AUTH_EXPECTED_ISS", async () => {
    await expect(
      t.startServer({
        env: { AUTH_MODE: "full", AUTH_BASEURL: provider.issuer, AUTH_EXPECTED_ISS: "https://login.example.test/", AUTH_AUDIENCE: TEST_RESOURCE },
      }),
    ).rejects.toThrow(/issuer mismatch/);
  });
});
