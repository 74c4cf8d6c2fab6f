/**
 * Finding 14 (issue 13), server side: the UserInfo client followed redirects and
 * re-read discovery without checking the issuer. Now every fetch of a provider URL
 * (discovery, JWKS, token endpoint, UserInfo, the admin APIs) refuses redirects
 * (`redirect: "error"`, with a clear message), and every (re-)read of discovery checks
 * the issuer. A local HTTP server plays the provider: it answers 302 where the test says
 * and counts every request, so "not followed" means the target was never asked.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { Code } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createAdminApiClient } from "../../packages/server/src/auth/oidc/admin-api/index.js";
import { createUserinfoClient } from "../../packages/server/src/auth/oidc/admin-api/userinfo.js";
import { pkce } from "../helpers/oidc-provider.js";
import { expectCode } from "../helpers/outcome.js";

/** A fake provider: each path prefix is one "provider" the tests configure. */
describe("finding 14: provider URLs are never fetched through a redirect", () => {
  let srv: http.Server;
  let base = "";
  const hits: Array<{ url: string; authorization: string | undefined }> = [];
  /** Per-path handlers; unknown paths answer 404. */
  const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>();
  let privateKey: CryptoKey;
  let jwks: { keys: unknown[] };

  const json = (res: http.ServerResponse, body: unknown) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const redirect = (to: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(302, { location: `${base}${to}` });
    res.end();
  };
  const elsewhereHits = () => hits.filter((h) => h.url.startsWith("/elsewhere"));
  /** A discovery document for the provider at `${base}${prefix}`. */
  const discovery = (prefix: string, extra: Record<string, unknown> = {}) => ({
    issuer: `${base}${prefix}`,
    authorization_endpoint: `${base}${prefix}/auth`,
    token_endpoint: `${base}${prefix}/token`,
    jwks_uri: `${base}${prefix}/jwks`,
    userinfo_endpoint: `${base}${prefix}/userinfo`,
    ...extra,
  });

  beforeAll(async () => {
    srv = http.createServer((req, res) => {
      hits.push({ url: req.url ?? "", authorization: req.headers.authorization });
      const handler = routes.get((req.url ?? "").split("?")[0]!);
      if (handler) return handler(req, res);
      if ((req.url ?? "").startsWith("/elsewhere")) {
        // What a redirect target would answer: a usable document, to show it was never used.
        return json(res, { sub: "u1", email: "u1@example.test", email_verified: true, access_token: "stolen", expires_in: 60, keys: [] });
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" }] };
  });
  afterAll(async () => {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it("finding 14: the UserInfo client refuses a redirect from discovery and from the UserInfo endpoint", async () => {
    routes.set("/ui-a/.well-known/openid-configuration", redirect("/elsewhere/.well-known/openid-configuration"));
    const a = createUserinfoClient({ baseUrl: `${base}/ui-a`, issuer: `${base}/ui-a` });
    await expect(a.email("token-a", "u1")).rejects.toThrow(/redirect/);

    routes.set("/ui-b/.well-known/openid-configuration", (_req, res) => json(res, discovery("/ui-b")));
    routes.set("/ui-b/userinfo", redirect("/elsewhere/userinfo"));
    const b = createUserinfoClient({ baseUrl: `${base}/ui-b`, issuer: `${base}/ui-b` });
    await expect(b.email("token-b", "u1")).rejects.toThrow(/redirect/);
    expect(elsewhereHits()).toEqual([]);
  });

  it("finding 14: the UserInfo client checks the issuer every time it reads discovery", async () => {
    let now = Date.now();
    let issuer = `${base}/ui-c`;
    let userinfo = `${base}/ui-c/userinfo`;
    routes.set("/ui-c/.well-known/openid-configuration", (_req, res) => json(res, discovery("/ui-c", { issuer, userinfo_endpoint: userinfo })));
    routes.set("/ui-c/userinfo", (_req, res) => json(res, { sub: "u1", email: "u1@example.test", email_verified: true }));
    const c = createUserinfoClient({ baseUrl: `${base}/ui-c`, issuer: `${base}/ui-c`, now: () => now });
    expect(await c.email("token-c", "u1")).toEqual({ email: "u1@example.test", verified: true });

    // An hour later discovery is read again and names another issuer and endpoint: refused, not followed.
    issuer = "https://evil.example.test";
    userinfo = `${base}/elsewhere/userinfo`;
    now += 61 * 60 * 1000;
    await expect(c.email("token-c", "u1")).rejects.toThrow(/issuer/);
    // And the first read is checked too.
    const d = createUserinfoClient({ baseUrl: `${base}/ui-c`, issuer: `${base}/ui-c` });
    await expect(d.email("token-d", "u1")).rejects.toThrow(/issuer/);
    expect(elsewhereHits()).toEqual([]);
  });

  it("finding 14: the admin API clients refuse redirects from the token and user endpoints", async () => {
    routes.set("/a0/oauth/token", redirect("/elsewhere/oauth/token"));
    const redirectedToken = createAdminApiClient({ provider: "auth0", baseUrl: `${base}/a0`, clientId: "id", clientSecret: "secret" });
    await expect(redirectedToken.getUser("u1")).rejects.toThrow(/redirect/);

    routes.set("/a1/oauth/token", (_req, res) => json(res, { access_token: "admin-token", expires_in: 300 }));
    routes.set("/a1/api/v2/users/u1", redirect("/elsewhere/api/v2/users/u1"));
    const redirectedUser = createAdminApiClient({ provider: "auth0", baseUrl: `${base}/a1`, clientId: "id", clientSecret: "secret" });
    await expect(redirectedUser.getUser("u1")).rejects.toThrow(/redirect/);

    routes.set("/realms/kc/protocol/openid-connect/token", redirect("/elsewhere/token"));
    const keycloak = createAdminApiClient({ provider: "keycloak", baseUrl: `${base}/realms/kc`, clientId: "id", clientSecret: "secret" });
    await expect(keycloak.getUser("u1")).rejects.toThrow(/redirect/);
    expect(elsewhereHits()).toEqual([]);
  });

  describe("a server configured with the fake provider", () => {
    const t = useTessera({ server: false });

    const envFor = (prefix: string) => ({
      AUTH_MODE: "full",
      AUTH_BASEURL: `${base}${prefix}`,
      AUTH_AUDIENCE: "urn:tessera:api",
      AUTH_CLIENT_ID: "tessera",
      AUTH_CLIENT_SECRET: "the-client-secret",
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
    });

    it("finding 14: startup refuses a redirecting discovery at once, with a message naming the redirect", async () => {
      routes.set("/d/.well-known/openid-configuration", redirect("/elsewhere/.well-known/openid-configuration"));
      const before = hits.filter((h) => h.url.startsWith("/d/")).length;
      const e = await t.startServer({ env: envFor("/d") }).then(
        async (s) => {
          await s.close();
          return new Error("the server started");
        },
        (err: unknown) => err as Error,
      );
      expect(e.message).toMatch(/redirect/);
      expect(e.message).not.toMatch(/failed after/);
      // Not retried: a redirect is a configuration problem, not a passing failure.
      expect(hits.filter((h) => h.url.startsWith("/d/")).length - before).toBe(1);
      expect(elsewhereHits()).toEqual([]);
    });

    it("finding 14: provider keys behind a redirecting jwks_uri are not fetched; tokens answer Unavailable", async () => {
      routes.set("/e/.well-known/openid-configuration", (_req, res) => json(res, discovery("/e")));
      routes.set("/e/jwks", redirect("/elsewhere/jwks"));
      const server = await t.startServer({ env: envFor("/e") });
      try {
        const now = Math.floor(Date.now() / 1000);
        const token = await new SignJWT({ iss: `${base}/e`, aud: "urn:tessera:api", sub: "u1", iat: now, exp: now + 600 })
          .setProtectedHeader({ alg: "RS256", kid: "k1", typ: "at+jwt" })
          .sign(privateKey);
        await expectCode(server.client(AuthService, { token }).checkToken({}), Code.Unavailable);
        expect(server.logs.some((l) => l.includes("OpenID provider keys not fetched yet") && /redirect/.test(l))).toBe(true);
      } finally {
        await server.close();
      }
      expect(elsewhereHits()).toEqual([]);
    });

    it("finding 14: the token endpoint is not followed through a redirect; the client secret stays put", async () => {
      routes.set("/f/.well-known/openid-configuration", (_req, res) => json(res, discovery("/f")));
      routes.set("/f/jwks", (_req, res) => json(res, jwks));
      routes.set("/f/token", redirect("/elsewhere/token"));
      const server = await t.startServer({ env: envFor("/f") });
      try {
        const auth = server.client(AuthService);
        const p = pkce();
        const state = randomBytes(16).toString("base64url");
        await auth.getAuthorizeUrl({ redirectUri: "http://127.0.0.1:9/cb", state, codeChallenge: p.challenge });
        await expectCode(
          auth.exchangeCode({ code: "a-code", redirectUri: "http://127.0.0.1:9/cb", codeVerifier: p.verifier, state, iss: `${base}/f` }),
          Code.Unavailable,
        );
        expect(hits.some((h) => h.url === "/f/token")).toBe(true);
        expect(server.logs.some((l) => /token endpoint/.test(l) && /redirect/.test(l))).toBe(true);
      } finally {
        await server.close();
      }
      expect(elsewhereHits()).toEqual([]);
    });
  });
});
