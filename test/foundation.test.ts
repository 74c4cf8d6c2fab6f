/**
 * The foundation end to end: one real server, three protocols, health, bad input,
 * on both PostgreSQL and PGlite.
 */
import http from "node:http";
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { AuthMode, AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ANONYMOUS_USER_ID } from "../packages/server/src/store/ids.js";
import { DB_KINDS, useTessera } from "./harness.js";

describe.each(DB_KINDS)("foundation on %s", (kind) => {
  const t = useTessera({ db: kind });

  it.each(["connect", "grpc", "grpc-web"] as const)("answers GetAuthConfig over %s", async (protocol) => {
    const client = t.server.client(AuthService, { protocol });
    const res = await client.getAuthConfig({});
    expect(res.mode).toBe(AuthMode.NONE);
    expect(res.passwordLoginEnabled).toBe(false);
    expect(res.signupEnabled).toBe(false);
    expect(res.issuer).toBe(t.server.app.config.publicUrl);
  });

  it("serves many RPCs at once without an EventTarget listener-leak warning", async () => {
    // Every in-flight RPC listens on the server's shutdown signal; more than 10 at once
    // used to print MaxListenersExceededWarning into the server's output.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      // 30 requests whose bodies arrive only once all 30 have started: all in flight at once.
      const requests = Array.from({ length: 30 }, () => {
        const req = http.request(`${t.server.baseUrl}/tessera.v1.UserAccountService/GetUserAccounts`, {
          method: "POST",
          agent: false,
          headers: { "content-type": "application/json", "content-length": "2" },
        });
        req.flushHeaders();
        const status = new Promise<number>((resolve, reject) => {
          req.on("response", (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          });
          req.on("error", reject);
        });
        return { req, status };
      });
      // Wait until the server holds all 30 (a fixed sleep could fall short on a busy machine).
      await expect.poll(() => t.server.app.server.inFlight(), { timeout: 15_000, interval: 20 }).toBe(30);
      for (const { req } of requests) req.end("{}");
      expect(await Promise.all(requests.map((r) => r.status))).toEqual(requests.map(() => 200));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
  });

  it("answers the README's curl (Connect JSON over HTTP/1.1)", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mode: "AUTH_MODE_NONE" });
  });

  it("answers GetAuthConfig over HTTP GET (NO_SIDE_EFFECTS)", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig?connect=v1&encoding=json&message=%7B%7D`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mode: "AUTH_MODE_NONE" });
  });

  it("treats every caller as the anonymous user in AUTH_MODE=none, ignoring bearer tokens", async () => {
    const res = await t.server.client(AuthService, { token: "garbage.token.value" }).checkToken({});
    expect(res.userId).toBe(ANONYMOUS_USER_ID);
    expect(res.principalKind).toBe(PrincipalKind.ANONYMOUS);
  });

  it("reports health with the database state", async () => {
    const res = await fetch(`${t.server.baseUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      version: t.server.app.config.version,
      auth_mode: "none",
      database: "ok",
      rate_limits: "memory",
      revocation_broadcast: { status: "ok" },
    });
  });

  it("answers 404 for an unknown path", async () => {
    const res = await fetch(`${t.server.baseUrl}/nope/Nothing`, { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    const res2 = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/NoSuchMethod`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res2.status).toBe(404);
  });

  it("answers InvalidArgument for a malformed body", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
    const bin = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]),
    });
    // connect-es follows gRPC here: an unparseable protobuf body is Internal ("parse binary").
    // What matters: a clean Connect error, no crash, the server keeps serving.
    expect(await bin.json()).toMatchObject({ code: "internal", message: expect.stringMatching(/^parse binary/) });
    expect((await t.server.client(AuthService).getAuthConfig({})).mode).toBe(AuthMode.NONE);
  });

  it("answers ResourceExhausted for a body over 1 MiB and keeps serving", async () => {
    const big = JSON.stringify({ email: "a".repeat(1024 * 1024 + 10) });
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
    const ok = await t.server.client(AuthService).getAuthConfig({});
    expect(ok.mode).toBe(AuthMode.NONE);
  });

  it("answers a client error, never a stack trace, for every kind of bad request", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"unknownField": [1,2,3]}',
    });
    expect(res.status).toBe(200);
    const text = await (
      await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, { method: "POST", headers: { "content-type": "text/html" }, body: "x" })
    ).text();
    expect(text).not.toMatch(/at .*\.ts:\d+/);
  });

  it("writes one log line per RPC with procedure, code and duration", async () => {
    await t.server.client(AuthService).getAuthConfig({});
    const line = t.server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.procedure === "tessera.v1.AuthService/GetAuthConfig");
    expect(line).toMatchObject({ msg: "rpc", code: "ok" });
    expect(typeof line?.duration_ms).toBe("number");
  });
});

describe("foundation server", () => {
  // Each test starts (and closes) its own server on the harness's database.
  const t = useTessera({ server: false });

  it("keeps serving after a connection that sends garbage bytes", async () => {
    const server = await t.startServer();
    try {
      const net = await import("node:net");
      await new Promise<void>((resolve) => {
        const s = net.connect(server.port, "127.0.0.1", () => {
          s.write(Buffer.from([0, 1, 2, 3, 255, 254, 10, 13, 10, 13]));
        });
        s.on("close", () => resolve());
        s.on("error", () => resolve());
        s.setTimeout(3000, () => s.destroy());
      });
      const res = await server.client(AuthService, { protocol: "grpc" }).getAuthConfig({});
      expect(res.mode).toBe(AuthMode.NONE);
    } finally {
      await server.close();
    }
  });

  it("drains in-flight requests on close and refuses new ones", async () => {
    const server = await t.startServer();
    const client = server.client(AuthService);
    const inflight = Array.from({ length: 20 }, () => client.getAuthConfig({}));
    const closing = server.close();
    const results = await Promise.allSettled(inflight);
    await closing;
    // Every request either completed or was refused cleanly; none hung.
    for (const r of results) {
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).not.toBe(Code.Internal);
    }
    await expect(fetch(`${server.baseUrl}/health`)).rejects.toThrow();
  });
});
