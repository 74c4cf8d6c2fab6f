/**
 * The SDK: browser-safe bundle, bearer and single-flight refresh (in-memory router
 * with a fake AuthService), token stores, and real servers over all three protocols.
 */
import { describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Code, ConnectError, createRouterTransport, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { randomBytes } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AuthMode, AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import * as browserSdk from "../packages/sdk/src/index.js";
import { createLocalStorageTokenStore, createMemoryTokenStore, createTesseraClient, type Tokens } from "../packages/sdk/src/node.js";
import { accessTokenExpiry } from "../packages/sdk/src/tokens.js";
import { ANONYMOUS_USER_ID } from "../packages/server/src/store/ids.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SDK browser bundle", () => {
  it("bundles packages/sdk/src/index.ts for the browser without any Node built-in or connect-node", async () => {
    const result = await build({
      entryPoints: [path.join(root, "packages/sdk/src/index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((i) => i.includes("connect-web"))).toBe(true);
    expect(inputs.filter((i) => i.startsWith("node:") || i.includes("connect-node"))).toEqual([]);
    for (const input of Object.values(result.metafile.inputs)) {
      for (const imp of input.imports) {
        expect(imp.path.startsWith("node:"), imp.path).toBe(false);
        expect(imp.path.includes("connect-node"), imp.path).toBe(false);
      }
    }
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/require\(["'](node:)?(http2?|net|tls|fs|zlib|crypto)["']\)/);
  });

  it("fails the bundle on a Node built-in (the check above can fail)", async () => {
    const err = await build({
      stdin: { contents: 'import http2 from "node:http2"; console.log(http2);', resolveDir: root, loader: "ts" },
      bundle: true,
      platform: "browser",
      write: false,
      logLevel: "silent",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('refuses protocol "grpc" in the browser entry with a clear error', () => {
    expect(() => browserSdk.createTesseraClient({ baseUrl: "http://x", protocol: "grpc" })).toThrow(/not possible in browsers.*grpc-web/);
  });
});

/** A fake Tessera AuthService: valid access tokens are `at-<n>`; only the newest is valid. */
function fakeTessera(opts: { refreshDelayMs?: number; refreshError?: ConnectError } = {}) {
  const state = { refreshCalls: 0, checkCalls: 0, generation: 0, seenAuth: [] as (string | null)[] };
  const valid = () => `at-${state.generation}`;
  const requireToken = (ctx: HandlerContext) => {
    const h = ctx.requestHeader.get("authorization");
    state.seenAuth.push(h);
    if (h === "Bearer tsk_goodkey") return "api-key";
    if (h !== `Bearer ${valid()}`) throw new ConnectError("token expired", Code.Unauthenticated);
    return "user";
  };
  const impl: Partial<ServiceImpl<typeof AuthService>> = {
    getAuthConfig(_req, ctx) {
      state.seenAuth.push(ctx.requestHeader.get("authorization"));
      return { mode: AuthMode.FULL, issuer: "http://fake" };
    },
    async refreshToken(req) {
      state.refreshCalls++;
      if (opts.refreshDelayMs) await sleep(opts.refreshDelayMs);
      if (opts.refreshError) throw opts.refreshError;
      if (req.refreshToken !== `rt-${state.generation}`) throw new ConnectError("refresh token reused", Code.Unauthenticated);
      state.generation++;
      return {
        tokens: {
          accessToken: valid(),
          refreshToken: `rt-${state.generation}`,
          tokenType: "Bearer",
          expiresIn: 900n,
          accessTokenExpiresAt: timestampFromDate(new Date(Date.now() + 900_000)),
          userId: "u1",
        },
      };
    },
    logout() {
      return {};
    },
    checkToken(_req, ctx) {
      state.checkCalls++;
      const kind = requireToken(ctx);
      return { userId: "u1", principalKind: kind === "api-key" ? PrincipalKind.API_KEY : PrincipalKind.USER };
    },
    listSessions(_req, ctx) {
      requireToken(ctx);
      throw new ConnectError("not for you", Code.PermissionDenied);
    },
  };
  const transport = createRouterTransport((router) => {
    router.service(AuthService, impl);
    router.service(UserAccountService, {
      getUserAccounts(_req, ctx) {
        requireToken(ctx);
        return { accounts: [] };
      },
    });
  });
  return { state, transport };
}

describe("SDK credentials (in-memory router)", () => {
  it("makes exactly one RefreshToken call for 100 concurrent calls with an expired access token", async () => {
    const fake = fakeTessera({ refreshDelayMs: 30 });
    fake.state.generation = 1; // at-0 is expired, rt-1 is the valid refresh token
    const client = createTesseraClient({ transport: fake.transport, accessToken: "at-0", refreshToken: "rt-1" });
    const results = await Promise.all(Array.from({ length: 100 }, () => client.auth.checkToken({})));
    expect(results.every((r) => r.userId === "u1")).toBe(true);
    expect(fake.state.refreshCalls).toBe(1);
    expect((await client.getTokens())?.accessToken).toBe("at-2");
    expect((await client.getTokens())?.refreshToken).toBe("rt-2");
    // Later calls use the new token directly.
    await client.userAccounts.getUserAccounts({});
    expect(fake.state.refreshCalls).toBe(1);
  });

  it("refreshes before the call when the stored access token is known to have expired", async () => {
    const fake = fakeTessera();
    fake.state.generation = 1;
    const client = createTesseraClient({
      transport: fake.transport,
      accessToken: "at-0",
      refreshToken: "rt-1",
      accessTokenExpiresAt: new Date(Date.now() - 1000),
    });
    await Promise.all(Array.from({ length: 20 }, () => client.auth.checkToken({})));
    expect(fake.state.refreshCalls).toBe(1);
    // No call went out with the expired token.
    expect(fake.state.seenAuth.filter((h) => h === "Bearer at-0")).toEqual([]);
  });

  it("reads the expiry from a JWT access token", () => {
    const payload = btoa(JSON.stringify({ exp: 1_700_000_000 })).replace(/=+$/, "");
    expect(accessTokenExpiry({ accessToken: `eyJhbGciOiJFUzI1NiJ9.${payload}.sig` })?.getTime()).toBe(1_700_000_000_000);
    expect(accessTokenExpiry({ accessToken: "opaque" })).toBeUndefined();
  });

  it("on a rejected refresh token: the original Unauthenticated, one refresh, the store cleared", async () => {
    const fake = fakeTessera({ refreshDelayMs: 10 });
    fake.state.generation = 5; // rt-1 is stale
    const store = createMemoryTokenStore();
    const client = createTesseraClient({ transport: fake.transport, tokenStore: store, accessToken: "at-0", refreshToken: "rt-1" });
    const errs = await Promise.all(Array.from({ length: 10 }, () => client.auth.checkToken({}).catch((e: unknown) => e)));
    for (const e of errs) {
      expect(e).toBeInstanceOf(ConnectError);
      expect((e as ConnectError).code).toBe(Code.Unauthenticated);
      expect((e as ConnectError).rawMessage).toBe("token expired");
    }
    expect(fake.state.refreshCalls).toBe(1);
    expect(store.get()).toBeUndefined();
  });

  it("on an unreachable refresh: the refresh error's code, tokens kept for a later retry", async () => {
    const fake = fakeTessera({ refreshError: new ConnectError("down", Code.Unavailable) });
    fake.state.generation = 1;
    const store = createMemoryTokenStore();
    const client = createTesseraClient({ transport: fake.transport, tokenStore: store, accessToken: "at-0", refreshToken: "rt-1" });
    const err = await client.auth.checkToken({}).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unavailable });
    expect(store.get()).toMatchObject({ refreshToken: "rt-1" });
  });

  it("sends an API key as the bearer and never refreshes it", async () => {
    const fake = fakeTessera();
    const ok = createTesseraClient({ transport: fake.transport, apiKey: "tsk_goodkey", refreshToken: "rt-0" });
    expect((await ok.auth.checkToken({})).principalKind).toBe(PrincipalKind.API_KEY);
    const bad = createTesseraClient({ transport: fake.transport, apiKey: "tsk_revoked", refreshToken: "rt-0" });
    await expect(bad.auth.checkToken({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(fake.state.refreshCalls).toBe(0);
  });

  it("keeps other error codes and does not refresh for them", async () => {
    const fake = fakeTessera();
    fake.state.generation = 0;
    const client = createTesseraClient({ transport: fake.transport, accessToken: "at-0", refreshToken: "rt-0" });
    const err = await client.auth.listSessions({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect(fake.state.refreshCalls).toBe(0);
  });

  it("sends no bearer to public procedures, even with expired tokens", async () => {
    const fake = fakeTessera();
    const client = createTesseraClient({ transport: fake.transport, accessToken: "at-9", refreshToken: "rt-9", accessTokenExpiresAt: new Date(0) });
    await client.auth.getAuthConfig({});
    expect(fake.state.seenAuth).toEqual([null]);
    expect(fake.state.refreshCalls).toBe(0);
  });

  it("calls without credentials when it has none (the server decides)", async () => {
    const fake = fakeTessera();
    const client = createTesseraClient({ transport: fake.transport });
    await expect(client.auth.checkToken({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(fake.state.seenAuth).toEqual([null]);
  });

  it("keeps tokens in localStorage-like storage across clients", async () => {
    const mem = new Map<string, string>();
    const storage = {
      getItem: (k: string) => mem.get(k) ?? null,
      setItem: (k: string, v: string) => void mem.set(k, v),
      removeItem: (k: string) => void mem.delete(k),
    };
    const fake = fakeTessera();
    fake.state.generation = 1;
    const store = createLocalStorageTokenStore("t", storage);
    const a = createTesseraClient({ transport: fake.transport, tokenStore: store, accessToken: "at-0", refreshToken: "rt-1" });
    await a.auth.checkToken({});
    const saved = JSON.parse(mem.get("t")!) as Record<string, string>;
    expect(saved).toMatchObject({ accessToken: "at-2", refreshToken: "rt-2" });
    expect(typeof saved.accessTokenExpiresAt).toBe("string");
    const b = createTesseraClient({ transport: fake.transport, tokenStore: createLocalStorageTokenStore("t", storage) });
    expect((await b.getTokens())?.accessTokenExpiresAt).toBeInstanceOf(Date);
    await b.auth.checkToken({});
    expect(fake.state.refreshCalls).toBe(1);
    await b.signOut();
    expect(mem.has("t")).toBe(false);
  });

  it("accepts an async token store", async () => {
    let saved: Tokens | undefined = { accessToken: "at-0", refreshToken: "rt-1" };
    const fake = fakeTessera();
    fake.state.generation = 1;
    const client = createTesseraClient({
      transport: fake.transport,
      tokenStore: {
        get: async () => saved,
        set: async (t) => {
          await sleep(1);
          saved = t;
        },
        clear: async () => {
          saved = undefined;
        },
      },
    });
    await Promise.all(Array.from({ length: 30 }, () => client.auth.checkToken({})));
    expect(fake.state.refreshCalls).toBe(1);
    expect(saved?.accessToken).toBe("at-2");
  });
});

describe("SDK against a real server", () => {
  // Two servers, each on a database of its own.
  const none = useTessera();
  const full = useTessera({ env: { AUTH_MODE: "full" } });

  it.each(["connect", "grpc-web", "grpc"] as const)("calls the three services over %s from Node", async (protocol) => {
    const client = createTesseraClient({ baseUrl: `${none.server.baseUrl}/`, protocol, apiKey: "tsk_ignored_in_none_mode" });
    expect((await client.auth.getAuthConfig({})).mode).toBe(AuthMode.NONE);
    const me = await client.auth.checkToken({});
    expect(me.userId).toBe(ANONYMOUS_USER_ID);
    expect(me.principalKind).toBe(PrincipalKind.ANONYMOUS);
  });

  it("goes through a given fetch (e.g. to set credentials) in the Node entry too", async () => {
    const urls: string[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      urls.push(String(input instanceof Request ? input.url : input));
      return globalThis.fetch(input, init);
    };
    const client = createTesseraClient({ baseUrl: none.server.baseUrl, protocol: "grpc-web", fetch });
    expect((await client.auth.checkToken({})).principalKind).toBe(PrincipalKind.ANONYMOUS);
    expect(urls).toEqual([`${none.server.baseUrl}/tessera.v1.AuthService/CheckToken`]);
  });

  it.each(["connect", "grpc-web"] as const)("calls the server over %s through the browser entry (fetch)", async (protocol) => {
    const client = browserSdk.createTesseraClient({ baseUrl: none.server.baseUrl, protocol });
    expect((await client.auth.checkToken({})).principalKind).toBe(PrincipalKind.ANONYMOUS);
  });

  async function signedUp(protocol: "connect" | "grpc-web" | "grpc" = "connect") {
    const client = createTesseraClient({ baseUrl: full.server.baseUrl, protocol });
    const tag = randomBytes(4).toString("hex");
    const email = `sdk-${tag}@example.test`;
    const password = `pw ${randomBytes(12).toString("base64")} ${tag}`;
    const tokens = await client.signUp(email, password);
    return { client, tokens, email, password };
  }
  const refreshCalls = () => full.server.logs.filter((l) => l.includes('"procedure":"tessera.v1.AuthService/RefreshToken"')).length;

  it.each(["connect", "grpc-web", "grpc"] as const)("authenticates with a real API key over %s and keeps error codes", async (protocol) => {
    const { client } = await signedUp(protocol);
    const accountId = (await client.userAccounts.getUserAccounts({})).accounts[0]!.id;
    const created = await client.apiKeys.createAccountApiKey({
      accountId,
      name: `sdk ${protocol}`,
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    const machine = createTesseraClient({ baseUrl: full.server.baseUrl, protocol, apiKey: created.keyValue });
    const me = await machine.auth.checkToken({});
    expect(me).toMatchObject({ principalKind: PrincipalKind.API_KEY, accountId, apiKeyId: created.apiKey!.id });
    // API keys cannot mint keys: PermissionDenied arrives as a ConnectError with its code.
    const denied = await machine.apiKeys
      .createAccountApiKey({ accountId, name: "nope", expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)) })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ConnectError);
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    await client.apiKeys.deleteAccountApiKey({ id: created.apiKey!.id });
    await expect(machine.auth.checkToken({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("signs in with a password and refreshes a rejected access token once for 100 concurrent calls (real server)", async () => {
    const { email, password } = await signedUp();
    const client = createTesseraClient({ baseUrl: full.server.baseUrl });
    const wrong = await client.signIn(email, "wrong password!").catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ConnectError);
    expect((wrong as ConnectError).code).toBe(Code.Unauthenticated);
    const tokens = await client.signIn(email, password);
    expect(await client.getTokens()).toEqual(tokens);
    expect((await client.auth.checkToken({})).userId).toBe(tokens.userId);
    // An access token the server rejects (its signature broken), with the real refresh token.
    const broken = tokens.accessToken.slice(0, -4) + (tokens.accessToken.endsWith("AAAA") ? "BBBB" : "AAAA");
    const store = createMemoryTokenStore({ accessToken: broken, refreshToken: tokens.refreshToken });
    const again = createTesseraClient({ baseUrl: full.server.baseUrl, tokenStore: store });
    const before = refreshCalls();
    const results = await Promise.all(Array.from({ length: 100 }, () => again.auth.checkToken({})));
    expect(new Set(results.map((r) => r.userId))).toEqual(new Set([tokens.userId]));
    expect(refreshCalls() - before).toBe(1);
    const now = store.get() as Tokens;
    expect(now.accessToken).not.toBe(broken);
    expect(now.refreshToken).not.toBe(tokens.refreshToken); // rotated
    await again.signOut();
    expect(store.get()).toBeUndefined();
    // The rotated-away refresh token no longer works: the original Unauthenticated, store cleared.
    const stale = createTesseraClient({ baseUrl: full.server.baseUrl, accessToken: broken, refreshToken: now.refreshToken });
    await expect(stale.auth.checkToken({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(await stale.getTokens()).toBeUndefined();
  });

  it.each(["connect", "grpc-web", "grpc"] as const)("keeps Unauthenticated as a ConnectError over %s", async (protocol) => {
    const client = createTesseraClient({ baseUrl: full.server.baseUrl, protocol, apiKey: "tsk_notarealkey0000000000000000" });
    const err = await client.auth.checkToken({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    const anon = createTesseraClient({ baseUrl: full.server.baseUrl, protocol });
    await expect(anon.userAccounts.getUserAccounts({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});
