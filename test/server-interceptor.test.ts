/**
 * `createAuthInterceptor` in a second, unrelated Connect service (greet.v1.GreetService,
 * described at runtime, not part of Tessera's contract) in front of a real Tessera,
 * plus the introspection cache against an in-memory fake Tessera.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { randomBytes } from "node:crypto";
import { SignJWT, generateKeyPair } from "jose";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { createAuthInterceptor, requireTesseraPrincipal, tesseraPrincipalKey, type AuthInterceptorOptions } from "../packages/connect/src/index.js";
import { TtlCache } from "../packages/connect/src/ttl-cache.js";
import { codeOf } from "./helpers/outcome.js";
import { greetService } from "./consumer/greet-service.js";

const GreetService = greetService();

interface GreetResult {
  greeting: string;
  userId: string;
  kind: string;
  accountId: string;
  via: string;
}

/** Starts the greet service (h2c) on a free port behind the interceptor. */
async function startGreet(opts: AuthInterceptorOptions): Promise<{ url: string; close(): Promise<void> }> {
  const handler = connectNodeAdapter({
    interceptors: [createAuthInterceptor(opts)],
    routes: (router) =>
      router.service(GreetService, {
        greet(req: { name: string }, ctx: HandlerContext) {
          const p = requireTesseraPrincipal(ctx);
          return { greeting: `hello ${req.name}`, userId: p.userId, kind: p.kind, accountId: p.accountId ?? "", via: p.via };
        },
        health(_req: unknown, ctx: HandlerContext) {
          return { greeting: "ok", userId: ctx.values.get(tesseraPrincipalKey)?.userId ?? "" };
        },
      } as never),
  });
  // HTTP/2 cleartext: Connect and gRPC alike.
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

function greetClient(url: string, token?: string, protocol: "connect" | "grpc" = "connect") {
  const interceptors: Interceptor[] = token
    ? [
        (next) => (req) => {
          req.header.set("authorization", token.startsWith("Raw ") ? token.slice(4) : `Bearer ${token}`);
          return next(req);
        },
      ]
    : [];
  const transport =
    protocol === "grpc" ? createGrpcTransport({ baseUrl: url, interceptors }) : createConnectTransport({ baseUrl: url, httpVersion: "2", interceptors });
  const c = createClient(GreetService, transport) as unknown as {
    greet(req: { name: string }): Promise<GreetResult>;
    health(req: { name: string }): Promise<GreetResult>;
  };
  return c;
}

describe("createAuthInterceptor in front of a real Tessera", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  const tessera = t.server;
  let greet: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    greet = await startGreet({ tesseraUrl: tessera.baseUrl, publicProcedures: ["/greet.v1.GreetService/Health"] });
  });
  afterAll(async () => {
    await greet?.close();
  });

  it("lets public procedures through without credentials", async () => {
    expect((await greetClient(greet.url).health({ name: "x" })).greeting).toBe("ok");
  });

  it("answers Unauthenticated for missing, malformed and unknown credentials", async () => {
    expect(await codeOf(greetClient(greet.url).greet({ name: "x" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(greetClient(greet.url, "Raw Basic dXNlcjpwYXNz").greet({ name: "x" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(greetClient(greet.url, "tsk_doesnotexist000000000000000000").greet({ name: "x" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(greetClient(greet.url, "not.a.jwt").greet({ name: "x" }))).toBe(Code.Unauthenticated);
    const err = await greetClient(greet.url)
      .greet({ name: "x" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).metadata.get("www-authenticate")).toBe('Bearer realm="tessera"');
  });

  it("rejects a JWT claiming Tessera's issuer but signed by another key", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "forged" })
      .setIssuer(tessera.app.config.publicUrl)
      .setAudience(tessera.app.config.tokenAudience)
      .setSubject("00000000-0000-0000-0000-00000000dead")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    expect(await codeOf(greetClient(greet.url, forged).greet({ name: "x" }))).toBe(Code.Unauthenticated);
  });

  async function signedUpUser() {
    const client = createTesseraClient({ baseUrl: tessera.baseUrl });
    const tag = randomBytes(4).toString("hex");
    const tokens = await client.signUp(`greeter-${tag}@example.test`, `pw ${randomBytes(12).toString("base64")} ${tag}`);
    const accounts = await client.userAccounts.getUserAccounts({});
    return { client, tokens, accountId: accounts.accounts[0]!.id };
  }
  const checkTokenCalls = () => tessera.logs.filter((l) => l.includes('"procedure":"tessera.v1.AuthService/CheckToken"')).length;

  it("verifies a Tessera access token offline and hands the principal to the handler", async () => {
    const { tokens } = await signedUpUser();
    const before = checkTokenCalls();
    for (const protocol of ["connect", "grpc"] as const) {
      const res = await greetClient(greet.url, tokens.accessToken, protocol).greet({ name: "ada" });
      expect(res).toMatchObject({ greeting: "hello ada", userId: tokens.userId, kind: "user", via: "jwt" });
    }
    expect(checkTokenCalls()).toBe(before); // no round trip to Tessera per request
  });

  it("rejects a Tessera access token for another audience, and an expired one", async () => {
    const { tokens } = await signedUpUser();
    const strict = await startGreet({ tesseraUrl: tessera.baseUrl, audience: "https://other.example" });
    const later = await startGreet({ tesseraUrl: tessera.baseUrl, now: () => Date.now() + 3600_000 });
    try {
      expect(await codeOf(greetClient(strict.url, tokens.accessToken).greet({ name: "x" }))).toBe(Code.Unauthenticated);
      const err = await greetClient(later.url, tokens.accessToken)
        .greet({ name: "x" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toMatchObject({ code: Code.Unauthenticated, rawMessage: "access token expired" });
    } finally {
      await strict.close();
      await later.close();
    }
  });

  it("introspects an API key, caches it, and rejects it once revoked and the window has passed", async () => {
    const { client, accountId } = await signedUpUser();
    const created = await client.apiKeys.createAccountApiKey({ accountId, name: "greeter", expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)) });
    const key = created.keyValue;
    expect(key.startsWith("tsk_")).toBe(true);
    let clock = Date.now();
    const cached = await startGreet({ tesseraUrl: tessera.baseUrl, apiKeyCacheTtlMs: 5_000, now: () => clock });
    try {
      const before = checkTokenCalls();
      const results = await Promise.all(Array.from({ length: 20 }, () => greetClient(cached.url, key).greet({ name: "bot" })));
      expect(results[0]).toMatchObject({ kind: "api_key", accountId, userId: created.apiKey!.userId, via: "introspection" });
      expect(checkTokenCalls() - before).toBe(1);

      await client.apiKeys.deleteAccountApiKey({ id: created.apiKey!.id });
      expect(await codeOf(greetClient(cached.url, key).greet({ name: "bot" }))).toBe("ok"); // within the documented window
      clock += 5_001;
      expect(await codeOf(greetClient(cached.url, key).greet({ name: "bot" }))).toBe(Code.Unauthenticated);
      // Without a cache the revocation is immediate.
      const uncached = await startGreet({ tesseraUrl: tessera.baseUrl, apiKeyCacheTtlMs: 0 });
      try {
        expect(await codeOf(greetClient(uncached.url, key).greet({ name: "bot" }))).toBe(Code.Unauthenticated);
      } finally {
        await uncached.close();
      }
    } finally {
      await cached.close();
    }
  });

  it("answers Unavailable when Tessera cannot be reached", async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const lonely = await startGreet({ tesseraUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    try {
      const err = await greetClient(lonely.url, "tsk_whatever00000000000000000000")
        .greet({ name: "x" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).rawMessage).not.toContain("tsk_");
    } finally {
      await lonely.close();
    }
  });
});

describe("introspection cache (in-memory fake Tessera)", () => {
  function fakeTessera() {
    const state = { checks: 0, revoked: new Set<string>(), down: false };
    const transport = createRouterTransport((router) =>
      router.service(AuthService, {
        getAuthConfig: () => ({ issuer: "http://fake-tessera" }),
        checkToken(_req, ctx) {
          state.checks++;
          if (state.down) throw new ConnectError("down", Code.Unavailable);
          const token = (ctx.requestHeader.get("authorization") ?? "").slice(7);
          if (!token.startsWith("tsk_good") || state.revoked.has(token)) throw new ConnectError("invalid API key", Code.Unauthenticated);
          return {
            userId: `machine-${token}`,
            principalKind: PrincipalKind.API_KEY,
            accountId: "acc-1",
            apiKeyId: "key-1",
            expiresAt: timestampFromDate(new Date(Date.now() + 3600_000)),
          };
        },
      }),
    );
    return { state, transport };
  }

  it("introspects an API key once per window, sees revocation after it, and never caches outages", async () => {
    const fake = fakeTessera();
    let clock = Date.now();
    const greet = await startGreet({ tesseraUrl: "http://unused.invalid", transport: fake.transport, apiKeyCacheTtlMs: 5_000, now: () => clock });
    try {
      const c = greetClient(greet.url, "tsk_good1");
      const results = await Promise.all(Array.from({ length: 50 }, () => c.greet({ name: "w" })));
      expect(results[0]).toMatchObject({ kind: "api_key", userId: "machine-tsk_good1", accountId: "acc-1", via: "introspection" });
      expect(fake.state.checks).toBe(1);

      fake.state.revoked.add("tsk_good1");
      clock += 4_000; // inside the window: still the cached answer
      expect(await codeOf(c.greet({ name: "w" }))).toBe("ok");
      clock += 1_500; // past it
      expect(await codeOf(c.greet({ name: "w" }))).toBe(Code.Unauthenticated);
      expect(fake.state.checks).toBe(2);
      // The rejection is cached too.
      expect(await codeOf(c.greet({ name: "w" }))).toBe(Code.Unauthenticated);
      expect(fake.state.checks).toBe(2);

      fake.state.down = true;
      const other = greetClient(greet.url, "tsk_good2");
      expect(await codeOf(other.greet({ name: "w" }))).toBe(Code.Unavailable);
      fake.state.down = false;
      expect(await codeOf(other.greet({ name: "w" }))).toBe("ok");
    } finally {
      await greet.close();
    }
  });

  it("works over gRPC and refuses Tessera's anonymous user unless allowed", async () => {
    const anonTransport = createRouterTransport((router) =>
      router.service(AuthService, { checkToken: () => ({ userId: "anon", principalKind: PrincipalKind.ANONYMOUS }) }),
    );
    const strict = await startGreet({ tesseraUrl: "http://unused.invalid", transport: anonTransport });
    const lax = await startGreet({ tesseraUrl: "http://unused.invalid", transport: anonTransport, allowAnonymous: true });
    try {
      expect(await codeOf(greetClient(strict.url, "anything", "grpc").greet({ name: "x" }))).toBe(Code.Unauthenticated);
      expect((await greetClient(lax.url, "anything", "grpc").greet({ name: "x" })).kind).toBe("anonymous");
    } finally {
      await strict.close();
      await lax.close();
    }
  });

  it("bounds the cache (least recently used first)", () => {
    let t = 0;
    const c = new TtlCache<number>(3, () => t);
    c.set("a", 1, 100);
    c.set("b", 2, 100);
    c.set("c", 3, 100);
    expect(c.get("a")).toBe(1); // a is now most recent
    c.set("d", 4, 100);
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBe(1);
    expect(c.size).toBe(3);
    t = 100;
    expect(c.get("a")).toBeUndefined();
  });
});
