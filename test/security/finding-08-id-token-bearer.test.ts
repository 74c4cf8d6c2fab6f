/**
 * Finding 8 (issue 13): the provider's ID tokens were accepted as bearer access tokens
 * whenever `AUTH_AUDIENCE` named a client id (the ID token's `aud`). Reproduced with a real
 * ID token from the test provider (`oidc-provider`) presented to CheckToken.
 *
 * Now: a configuration whose `AUTH_AUDIENCE` contains `AUTH_CLIENT_ID` is refused at
 * startup, and the verifier refuses tokens that are ID tokens (or other non-access JWTs)
 * whatever their audience, while the provider's real JWT access tokens (RFC 9068,
 * `typ: at+jwt`) and the access-token shapes of Keycloak, Auth0 and Okta stay accepted.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "../harness.js";
import { Code } from "@connectrpc/connect";
import { SignJWT, type JWTPayload } from "jose";
import { AuthService, PrincipalKind } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ConfigError, loadConfig } from "../../packages/server/src/config/config.js";
import { pkce, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_KID, TEST_RESOURCE } from "../helpers/oidc-provider.js";
import { codeOf, expectCode } from "../helpers/outcome.js";
import type { TestServer } from "../helpers/server.js";

describe("finding 8: provider ID tokens are not bearer access tokens", () => {
  const provider = useTestProvider();
  const t = useTessera({ server: false });

  const identitiesOf = (subject: string) => t.database.db.kysely.selectFrom("identities").select("user_id").where("subject", "=", subject).execute();

  it("finding 8: a configuration whose AUTH_AUDIENCE contains AUTH_CLIENT_ID is refused at startup", async () => {
    const env = {
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: `${TEST_RESOURCE}, ${TEST_CLIENT_ID}`,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
    };
    const started: TestServer | Error = await t.startServer({ env }).then(
      (server) => server,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    if (!(started instanceof Error)) {
      // The vulnerable behaviour: the server runs, and a real ID token works as a bearer.
      const subject = `idt-${randomBytes(4).toString("hex")}`;
      const { idToken } = await provider.tokensFor(subject);
      const outcome = await codeOf(started.client(AuthService, { token: idToken }).checkToken({}));
      await started.close();
      expect.fail(`the server started with AUTH_AUDIENCE containing AUTH_CLIENT_ID; CheckToken with a real ID token answered ${String(outcome)}`);
    }
    expect(started).toBeInstanceOf(ConfigError);
    expect((started as ConfigError).variable).toBe("AUTH_AUDIENCE");
    expect(started.message).toMatch(/^AUTH_AUDIENCE: must not contain AUTH_CLIENT_ID \("tessera-test"\)/);
    // Only this combination is refused: the same audience without a login client is allowed.
    expect(() => loadConfig({ ...env, AUTH_CLIENT_ID: "", TESSERA_DATA_DIR: "memory://" })).not.toThrow();
    // Without a login client there must be an audience; with one, none (login only) is allowed.
    expect(() => loadConfig({ ...env, AUTH_AUDIENCE: "", AUTH_CLIENT_ID: "", TESSERA_DATA_DIR: "memory://" })).toThrow(
      /^AUTH_AUDIENCE: required when AUTH_BASEURL is set without AUTH_CLIENT_ID/,
    );
    expect(loadConfig({ ...env, AUTH_AUDIENCE: "", TESSERA_DATA_DIR: "memory://" }).oidc?.audiences).toEqual([]);
  });

  it("finding 8: without AUTH_AUDIENCE (login only) no provider token is a bearer, and the login works", async () => {
    const server = await t.startServer({
      env: {
        AUTH_MODE: "full",
        AUTH_BASEURL: provider.issuer,
        AUTH_CLIENT_ID: TEST_CLIENT_ID,
        AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
        AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
      },
    });
    try {
      const subject = `only-login-${randomBytes(4).toString("hex")}`;
      const { idToken, accessToken } = await provider.tokensFor(subject);
      const check = (token: string) => codeOf(server.client(AuthService, { token }).checkToken({}));
      expect(await check(accessToken)).toBe(Code.Unauthenticated);
      expect(await check(idToken)).toBe(Code.Unauthenticated);
      expect(await identitiesOf(subject)).toHaveLength(0);

      const auth = server.client(AuthService);
      const p = pkce();
      const state = randomBytes(16).toString("base64url");
      const redirectUri = `http://127.0.0.1:${provider.port}/cb`;
      const { url } = await auth.getAuthorizeUrl({ redirectUri, state, codeChallenge: p.challenge });
      const r = await provider.authorize(url, subject);
      const { tokens } = await auth.exchangeCode({ code: r.code, redirectUri, codeVerifier: p.verifier, state, iss: r.iss ?? "" });
      expect((await server.client(AuthService, { token: tokens!.accessToken }).checkToken({})).principalKind).toBe(PrincipalKind.USER);
    } finally {
      await server.close();
    }
  });

  describe("with AUTH_AUDIENCE naming a client id and no login client (nothing to compare at startup)", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await t.startServer({
        env: { AUTH_MODE: "full", AUTH_BASEURL: provider.issuer, AUTH_AUDIENCE: `${TEST_RESOURCE} ${TEST_CLIENT_ID}` },
      });
    });
    afterAll(async () => {
      await server?.close();
    });

    const check = (token: string) => server.client(AuthService, { token }).checkToken({});
    function claims(extra: JWTPayload = {}): JWTPayload {
      const now = Math.floor(Date.now() / 1000);
      return { iss: provider.issuer, aud: TEST_RESOURCE, sub: `crafted-${randomBytes(4).toString("hex")}`, iat: now, exp: now + 600, ...extra };
    }
    const sign = (payload: JWTPayload, typ?: string) =>
      new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid: TEST_KID, ...(typ === undefined ? {} : { typ }) }).sign(provider.privateKey);

    it("finding 8: a real ID token from the provider is refused as a bearer, and provisions nobody", async () => {
      const subject = `idt-${randomBytes(4).toString("hex")}`;
      const { idToken, accessToken } = await provider.tokensFor(subject);
      await expectCode(check(idToken), Code.Unauthenticated, /ID token/);
      expect(await identitiesOf(subject)).toHaveLength(0);
      // The access token of the same login works, and is the one that provisions.
      expect((await check(accessToken)).principalKind).toBe(PrincipalKind.OIDC_USER);
      expect(await identitiesOf(subject)).toHaveLength(1);
      // Once known, the ID token is still refused (nothing is cached for it).
      await expectCode(check(idToken), Code.Unauthenticated, /ID token/);
    });

    it("finding 8: tokens carrying ID-token or other non-access markers are refused, whatever their audience", async () => {
      const refused: Array<[string, () => Promise<string>]> = [
        ["nonce, aud = client id (an ID token)", () => sign(claims({ aud: TEST_CLIENT_ID, nonce: "n-1" }), "JWT")],
        ["nonce, aud = the API, untyped", () => sign(claims({ nonce: "n-2" }))],
        ["at_hash", () => sign(claims({ at_hash: "x" }), "JWT")],
        ["c_hash", () => sign(claims({ c_hash: "x" }))],
        ["s_hash", () => sign(claims({ s_hash: "x" }))],
        ["at_hash even with scope and client_id", () => sign(claims({ at_hash: "x", scope: "api:read", client_id: "c" }))],
        ["Keycloak ID token (typ claim ID)", () => sign(claims({ typ: "ID", azp: TEST_CLIENT_ID, scope: "openid" }), "JWT")],
        ["Keycloak refresh-like token (typ claim Refresh)", () => sign(claims({ typ: "Refresh", scope: "openid" }), "JWT")],
        ["a logout token (events claim)", () => sign(claims({ events: { "http://schemas.openid.net/event/backchannel-logout": {} } }), "logout+jwt")],
        ["a logout token typed JWT", () => sign(claims({ events: { "http://schemas.openid.net/event/backchannel-logout": {} } }), "JWT")],
        ["header typ id_token+jwt", () => sign(claims({ scope: "api:read" }), "id_token+jwt")],
        ["header typ dpop+jwt", () => sign(claims({ scope: "api:read" }), "dpop+jwt")],
      ];
      for (const [name, make] of refused) {
        const e = await codeOf(check(await make()));
        expect(e, name).toBe(Code.Unauthenticated);
      }
    });

    it("finding 8: real access tokens and the access-token shapes of common providers stay accepted", async () => {
      const accepted: Array<[string, () => Promise<string>]> = [
        ["the provider's RFC 9068 access token", () => provider.accessTokenFor(`at-${randomBytes(4).toString("hex")}`)],
        ["the provider's client-credentials token", () => provider.clientCredentialsToken()],
        ["untyped, minimal", () => sign(claims())],
        ["application/at+jwt", () => sign(claims({ client_id: "c" }), "application/at+jwt")],
        ["AT+JWT (case-insensitive)", () => sign(claims(), "AT+JWT")],
        [
          "Keycloak before 25 (typ claim Bearer, nonce of the login, scope, azp)",
          () =>
            sign(
              claims({ aud: [TEST_RESOURCE, "account"], typ: "Bearer", azp: TEST_CLIENT_ID, nonce: "n-3", scope: "openid email", auth_time: 1, sid: "s" }),
              "JWT",
            ),
        ],
        [
          "Auth0 (azp, scope, aud array)",
          () => sign(claims({ aud: [TEST_RESOURCE, `${provider.issuer}/userinfo`], azp: "spa", scope: "openid read:x" }), "JWT"),
        ],
        ["Okta (cid, scp)", () => sign(claims({ cid: "spa", scp: ["openid"], uid: "u" }))],
        [
          "aud includes the client id, with client_id (RFC 9068)",
          () => sign(claims({ aud: [TEST_RESOURCE, TEST_CLIENT_ID], client_id: TEST_CLIENT_ID }), "at+jwt"),
        ],
        ["nonce with client_id (access-token evidence)", () => sign(claims({ nonce: "n-4", client_id: "c" }))],
      ];
      for (const [name, make] of accepted) {
        expect(await codeOf(check(await make())), name).toBe("ok");
      }
    });

    it("finding 8: with a login client, a token whose aud also names AUTH_CLIENT_ID needs access-token evidence", async () => {
      const withLogin = await t.startServer({
        env: {
          AUTH_MODE: "full",
          AUTH_BASEURL: provider.issuer,
          AUTH_AUDIENCE: TEST_RESOURCE,
          AUTH_CLIENT_ID: TEST_CLIENT_ID,
          AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
          AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/cb",
        },
      });
      try {
        const at = (token: string) => codeOf(withLogin.client(AuthService, { token }).checkToken({}));
        const aud = [TEST_RESOURCE, TEST_CLIENT_ID];
        // An ID token with a second audience (azp = the login client): refused.
        expect(await at(await sign(claims({ aud, azp: TEST_CLIENT_ID }), "JWT"))).toBe(Code.Unauthenticated);
        expect(await at(await sign(claims({ aud })))).toBe(Code.Unauthenticated);
        // The same audience on an access token (client_id, scope, or typ at+jwt): accepted.
        expect(await at(await sign(claims({ aud, client_id: TEST_CLIENT_ID }), "JWT"))).toBe("ok");
        expect(await at(await sign(claims({ aud, scope: "api:read" }), "JWT"))).toBe("ok");
        expect(await at(await sign(claims({ aud }), "at+jwt"))).toBe("ok");
        // The login client's own real ID token (aud = the client only) is refused too.
        const { idToken, accessToken } = await provider.tokensFor(`login-${randomBytes(4).toString("hex")}`);
        expect(await at(idToken)).toBe(Code.Unauthenticated);
        expect(await at(accessToken)).toBe("ok");
      } finally {
        await withLogin.close();
      }
    });
  });
});
