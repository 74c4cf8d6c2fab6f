/**
 * Abuse limits: per-network windows, X-Forwarded-For trust, sharing through the real
 * Redis, the failed-login tarpit, failed logins per email and network, and the audit
 * trail of refusals. The issue-13 findings have their own files in test/security/.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createAbuseInterceptor, tarpitDelayMs, TARPIT_MAX_MS } from "../packages/server/src/abuse/interceptor.js";
import { createMemoryCounterStore } from "../packages/server/src/abuse/limiter.js";
import type { Refusal } from "../packages/server/src/abuse/refusal-audit.js";
import { requestInfoKey } from "../packages/server/src/lib/request-info.js";
import type { TestServer } from "./helpers/server.js";

function login(server: TestServer, email: string, headers: Record<string, string> = {}, method = "Login") {
  return fetch(`${server.baseUrl}/tessera.v1.AuthService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ email, password: "not-the-password-1" }),
  });
}

async function codeOf(res: Response): Promise<string> {
  const body = (await res.json()) as { code?: string };
  return body.code ?? "ok";
}

describe("abuse limits over a real server", () => {
  const t = useTessera({ server: false });

  it("refuses the 11th Login a minute from one IP with ResourceExhausted and a retry-after hint, and audits it", async () => {
    const server = await t.startServer({ env: { AUTH_MODE: "full" } });
    let closed = false;
    try {
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) codes.push(await codeOf(await login(server, `user${i}@example.com`)));
      expect(codes).not.toContain("resource_exhausted");
      const res = await login(server, "another@example.com");
      expect(res.status).toBe(429);
      expect(await codeOf(res)).toBe("resource_exhausted");
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Refusals are aggregated per window; shutdown writes the pending ones.
      await server.close();
      closed = true;
      const events = await t.database.db.kysely.selectFrom("audit_events").selectAll().where("action", "=", "ratelimit.exceeded.failure").execute();
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events[0]!.client_ip).toBe("127.0.0.1");
      expect(events[0]!.metadata).toMatchObject({ procedure: "AuthService/Login", limit_by: "ip", refused: 1 });
    } finally {
      if (!closed) await server.close();
    }
  });

  it("ignores X-Forwarded-For unless TRUST_PROXY_HOPS is set", async () => {
    const server = await t.startServer({ env: { AUTH_MODE: "full" } });
    try {
      const codes: string[] = [];
      for (let i = 0; i < 11; i++) codes.push(await codeOf(await login(server, `xff${i}@example.com`, { "x-forwarded-for": `10.0.0.${i}` })));
      expect(codes.slice(0, 10)).not.toContain("resource_exhausted");
      expect(codes[10]).toBe("resource_exhausted");
    } finally {
      await server.close();
    }
  });

  it("shares limits between two instances through Redis", async () => {
    const prefix = `tessera-test-${randomBytes(4).toString("hex")}:`;
    const env = { AUTH_MODE: "full", REDIS_URL: "redis://127.0.0.1:6379", REDIS_KEY_PREFIX: prefix };
    const a = await t.startServer({ env });
    const b = await t.startServer({ env });
    try {
      const codes: string[] = [];
      for (let i = 0; i < 10; i++) codes.push(await codeOf(await login(i % 2 === 0 ? a : b, `r${i}@example.com`)));
      expect(codes).not.toContain("resource_exhausted");
      expect(await codeOf(await login(a, "r-last@example.com"))).toBe("resource_exhausted");
      expect(await codeOf(await login(b, "r-last@example.com"))).toBe("resource_exhausted");
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("failed-login tarpit", () => {
  it("grows the delay after repeated failures for one email, caps it at 10 s, and resets on success", async () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map(tarpitDelayMs)).toEqual([0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, TARPIT_MAX_MS, TARPIT_MAX_MS]);

    const delays: number[] = [];
    const interceptor = createAbuseInterceptor({
      store: createMemoryCounterStore(),
      refusals: { refused: () => {} },
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const transport = createRouterTransport(
      (router) =>
        router.service(AuthService, {
          login(req) {
            if (req.password !== "right-password-123") throw new ConnectError("invalid email or password", Code.Unauthenticated);
            return { tokens: { userId: "u" } };
          },
        }),
      { router: { interceptors: [interceptor] } },
    );
    const client = createClient(AuthService, transport);
    const fail = () => client.login({ email: "t@example.com", password: "wrong-password-1" }).catch((e: unknown) => ConnectError.from(e).code);
    for (let i = 0; i < 6; i++) expect(await fail()).toBe(Code.Unauthenticated);
    expect(delays).toEqual([250, 500, 1000]);
    // Another email is not slowed down by this one's failures.
    await client.login({ email: "other@example.com", password: "wrong" }).catch(() => {});
    expect(delays).toEqual([250, 500, 1000]);
    await client.login({ email: "T@example.com", password: "right-password-123" });
    expect(delays).toEqual([250, 500, 1000, 2000]);
    await fail();
    expect(delays).toEqual([250, 500, 1000, 2000]);
  });
});

describe("failed logins per email and network", () => {
  it("refuses a network after 10 failed logins for one email, counting failures not attempts, while other networks and emails pass", async () => {
    let now = 1_000_000;
    const refused: Refusal[] = [];
    // The server reads the client IP from the socket; here a header stands in for it.
    const clientIpFromHeader: Interceptor = (next) => (req) => {
      req.contextValues.set(requestInfoKey, { clientIp: req.header.get("x-test-client-ip") ?? "", userAgent: "test" });
      return next(req);
    };
    const interceptor = createAbuseInterceptor({
      store: createMemoryCounterStore({ now: () => now }),
      refusals: { refused: (r) => refused.push(r) },
      sleep: async () => {},
    });
    const transport = createRouterTransport(
      (router) =>
        router.service(AuthService, {
          login(req) {
            if (req.password !== "right-password-123") throw new ConnectError("invalid email or password", Code.Unauthenticated);
            return { tokens: { userId: "u" } };
          },
        }),
      { router: { interceptors: [clientIpFromHeader, interceptor] } },
    );
    const client = createClient(AuthService, transport);
    const login = (email: string, password: string, ip: string) =>
      client.login({ email, password }, { headers: { "x-test-client-ip": ip } }).then(
        () => "ok",
        (e: unknown) => Code[ConnectError.from(e).code],
      );
    // Successes are attempts, not failures: they never count towards the limit.
    for (let i = 0; i < 5; i++) expect(await login("t@example.com", "right-password-123", "192.0.2.1")).toBe("ok");
    now += 61_000;
    for (let i = 0; i < 10; i++) expect(await login("t@example.com", "wrong-password-1", "192.0.2.1")).toBe("Unauthenticated");
    now += 61_000;
    // The 11th attempt from that network is refused, even with the right password.
    expect(await login("T@Example.com", "right-password-123", "192.0.2.1")).toBe("ResourceExhausted");
    expect(refused.map((r) => [r.limitBy, r.limit, r.windowMs])).toEqual([["email_and_ip", 10, 900_000]]);
    // Another email from that network, and this email from another network, pass.
    expect(await login("other@example.com", "wrong-password-1", "192.0.2.1")).toBe("Unauthenticated");
    expect(await login("t@example.com", "right-password-123", "192.0.2.2")).toBe("ok");
    // The network's failures for the email stand for their 15 minutes.
    expect(await login("t@example.com", "right-password-123", "192.0.2.1")).toBe("ResourceExhausted");
    now += 15 * 60_000;
    expect(await login("t@example.com", "right-password-123", "192.0.2.1")).toBe("ok");
  });
});
