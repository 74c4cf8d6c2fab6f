/**
 * OpenID Connect parts that need no server: the redirect-URI allow-list (RFC 8252
 * section 7.3 loopback port variance), the feature without a provider, and startup
 * failing when the discovery issuer differs from the configured one.
 */
import { NO_METRICS } from "../packages/server/src/metrics/metrics.js";
import { describe, expect, it } from "vitest";
import { useTestProvider } from "./harness.js";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createLocalJWKSet, exportJWK, importJWK, SignJWT } from "jose";
import { createProviderAuth as createOidcAuth } from "../packages/server/src/auth/providers/registry.js";
import { createOidcVerifier } from "../packages/server/src/auth/oidc/verifier.js";
import { discoverProvider } from "../packages/server/src/auth/oidc/discovery.js";
import { isAllowedRedirectUri } from "../packages/server/src/auth/providers/redirect-uris.js";
import type { SessionIssuer } from "../packages/server/src/auth/tokens/session-issuer.js";
import { loadConfig } from "../packages/server/src/config/config.js";
import type { Deps } from "../packages/server/src/deps.js";
import { createLogger } from "../packages/server/src/lib/logger.js";
import { TEST_CLIENT_ID, TEST_KID, TEST_RESOURCE } from "./helpers/oidc-provider.js";

const sessions: SessionIssuer = {
  startSession: () => Promise.reject(new Error("not used")),
};

function deps(env: Record<string, string>): Deps {
  const config = loadConfig({ AUTH_MODE: "full", TESSERA_DATA_DIR: "memory://", ...env });
  return {
    config,
    logger: createLogger({ json: true, level: "silent" }),
    db: undefined as never,
    audit: { record() {}, flush: async () => {} },
    access: undefined as never,
    clock: () => new Date(),
    metrics: NO_METRICS,
  };
}

describe("redirect URI allow-list", () => {
  const allowed = ["https://app.example.test/callback", "http://127.0.0.1/cb", "http://[::1]:9000/cb", "http://localhost:3000/cb"];
  it.each([
    "https://app.example.test/callback",
    "http://127.0.0.1/cb",
    "http://127.0.0.1:1/cb",
    "http://127.0.0.1:65535/cb",
    "http://[::1]/cb",
    "http://[::1]:1234/cb",
    "http://localhost:3000/cb",
  ])("allows %s", (uri) => {
    expect(isAllowedRedirectUri(uri, allowed)).toBe(true);
  });
  it.each([
    "https://app.example.test/callback/",
    "https://APP.example.test/callback",
    "https://app.example.test:443/callback/x",
    "http://localhost:3001/cb",
    "http://127.0.0.1:1/cb/",
    "http://127.0.0.1:1/CB",
    "http://127.0.0.1:1/cb?a=b",
    "http://127.0.0.1:1/cb#f",
    "http://a@127.0.0.1:1/cb",
    "http://127.0.0.1:1/./cb",
    "http://127.0.0.1:1/%63b",
    "http://127.1:1/cb",
    "http://2130706433:1/cb",
    "https://127.0.0.1:1/cb",
    "http://[::1]:1234/cb2",
    "javascript:alert(1)",
    "",
  ])("refuses %s", (uri) => {
    expect(isAllowedRedirectUri(uri, allowed)).toBe(false);
  });
});

describe("createOidcAuth", () => {
  const provider = useTestProvider();

  it("without a provider has no verifiers and answers FailedPrecondition", async () => {
    const oidc = createOidcAuth(deps({}), sessions);
    expect(oidc.verifiers).toEqual([]);
    const ctx = createHandlerContext({
      service: AuthService,
      method: AuthService.method.getAuthorizeUrl,
      protocolName: "connect",
      requestMethod: "POST",
      url: "http://x/",
    });
    const err = await Promise.resolve()
      .then(() => oidc.login.getAuthorizeUrl({ redirectUri: "", state: "", codeChallenge: "", providerId: "" } as never, ctx))
      .catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toBe("no OpenID provider configured");
  });

  it("starts when the discovery issuer equals the configured one", async () => {
    const oidc = createOidcAuth(deps({ AUTH_BASEURL: provider.issuer, AUTH_AUDIENCE: TEST_RESOURCE, AUTH_CLIENT_ID: TEST_CLIENT_ID }), sessions);
    await oidc.start!();
    expect(oidc.metadata()?.issuer).toBe(provider.issuer);
    expect(oidc.metadata()?.issParameterSupported).toBe(true);
    await oidc.stop!();
  });

  it("fails startup with a clear message when the discovery issuer differs", async () => {
    const oidc = createOidcAuth(
      deps({ AUTH_BASEURL: provider.issuer, AUTH_EXPECTED_ISS: `${provider.issuer}/realms/other`, AUTH_AUDIENCE: TEST_RESOURCE }),
      sessions,
    );
    await expect(oidc.start!()).rejects.toThrow(/issuer mismatch.*must be equal exactly/);
    // A trailing slash is a different issuer too.
    await expect(discoverProvider(provider.issuer, `${provider.issuer}/`, { attempts: 1 })).rejects.toThrow(/issuer mismatch/);
  });

  it("fails startup clearly when the provider cannot be reached, after a short retry", async () => {
    const started = Date.now();
    await expect(discoverProvider("http://127.0.0.1:1", "http://127.0.0.1:1", { attempts: 2, retryDelayMs: 50 })).rejects.toThrow(/failed after 2 attempts/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("provider token verifier", () => {
  const provider = useTestProvider();

  function verifier(algorithms: string[], resolveCalls: { n: number }) {
    const config = { ...deps({ AUTH_BASEURL: provider.issuer, AUTH_AUDIENCE: TEST_RESOURCE, AUTH_SIGNATURE_ALGORITHM: algorithms.join(",") }).config.oidc! };
    const keys = createLocalJWKSet({ keys: [provider.publicJwk] });
    return createOidcVerifier({
      config,
      keys: () => keys,
      clock: () => new Date(),
      resolveUser: async () => {
        resolveCalls.n++;
        return { userId: "00000000-0000-0000-0000-0000000000aa", disabled: false };
      },
    });
  }
  const claims = () => ({ iss: provider.issuer, aud: TEST_RESOURCE, sub: "u1", exp: Math.floor(Date.now() / 1000) + 300 });

  it("leaves API keys, opaque tokens and other issuers' JWTs to other verifiers", async () => {
    const v = verifier(["RS256"], { n: 0 });
    expect(await v.verify("tsk_0123456789abcdefghijklmnopqrstuvwxyzABCDEF")).toBeUndefined();
    expect(await v.verify("opaque-token-value")).toBeUndefined();
    const other = await new SignJWT({ ...claims(), iss: "http://127.0.0.1:8080" })
      .setProtectedHeader({ alg: "RS256", kid: TEST_KID })
      .sign(provider.privateKey);
    expect(await v.verify(other)).toBeUndefined();
  });

  it("requires the header alg to match the key's alg, even when both are allowed", async () => {
    const v = verifier(["RS256", "PS256"], { n: 0 });
    const ps = await importJWK({ ...(await exportJWK(provider.privateKey)), alg: "PS256" }, "PS256");
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "PS256", kid: TEST_KID }).sign(ps);
    await expect(v.verify(token)).rejects.toMatchObject({ code: Code.Unauthenticated });
    const good = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: TEST_KID }).sign(provider.privateKey);
    expect((await v.verify(good))?.kind).toBe("oidc_user");
  });

  it("caches a verified token until exp and returns the same principal", async () => {
    const calls = { n: 0 };
    const v = verifier(["RS256"], calls);
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: TEST_KID }).sign(provider.privateKey);
    const a = await v.verify(token);
    const b = await v.verify(token);
    expect(b).toMatchObject({ kind: "oidc_user", subject: "u1", issuer: provider.issuer, userId: a?.userId });
  });
});
