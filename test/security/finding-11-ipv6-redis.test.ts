/**
 * Finding 11 (issue 13): per-IP limits keyed IPv6 clients by their full address (a /64
 * holds 2^64 of them), and a Redis failure was invisible (the per-instance fallback
 * multiplies every limit by the number of instances). Now IPv6 counts per /64, IPv4-mapped
 * IPv6 as the IPv4 address, and /health and the log say when Redis is unavailable.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { networkOf } from "../../packages/server/src/abuse/network.js";
import { callAs, pollUntil } from "../helpers/abuse.js";
import { freePort } from "../helpers/net.js";
import type { TestServer } from "../helpers/server.js";

const UNAVAILABLE = "memory (redis unavailable: limits are per instance)";

async function health(server: TestServer): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.baseUrl}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Log messages of `server` that contain `text`. */
function logged(server: TestServer, text: string): string[] {
  return server.logs.map((l) => String((JSON.parse(l) as { msg?: unknown }).msg ?? "")).filter((m) => m.includes(text));
}

/** Starts a private redis-server on `port` (no persistence) and waits until it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const up = await pollUntil(
    () =>
      new Promise<boolean>((resolve) => {
        import("node:net").then(({ connect }) => {
          const s = connect(port, "127.0.0.1", () => {
            s.destroy();
            resolve(true);
          });
          s.on("error", () => resolve(false));
        });
      }),
    10_000,
  );
  if (!up) throw new Error("redis-server did not start");
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

describe("finding 11", () => {
  const t = useTessera({ server: false });

  it("finding 11: per-IP limits count IPv6 clients by their /64 and IPv4-mapped IPv6 as the IPv4 address", async () => {
    expect(networkOf("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(networkOf("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(networkOf("::ffff:192.0.2.5")).toBe("192.0.2.5");
    expect(networkOf("::ffff:c000:205")).toBe("192.0.2.5");
    expect(networkOf("fe80::1%eth0")).toBe("fe80::/64");
    expect(networkOf("192.0.2.5")).toBe("192.0.2.5");

    const server = await t.startServer({ env: { AUTH_MODE: "full", TRUST_PROXY_HOPS: "1" } });
    try {
      // A distinct email each time, so the failed-login tarpit of one email stays out of the way.
      let n = 0;
      const login = async (ip: string) => (await callAs(server, "Login", { email: `v6-${n++}@example.com`, password: "not the password 1" }, ip)).code;
      const codes: string[] = [];
      for (let i = 1; i <= 10; i++) codes.push(await login(`2001:db8:1:2::${i.toString(16)}`));
      expect(codes).not.toContain("resource_exhausted");
      // Another address of the same /64 shares the limit; another /64 does not.
      expect(await login("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("resource_exhausted");
      expect(await login("2001:db8:1:3::1")).not.toBe("resource_exhausted");
      // An IPv4 client and its IPv4-mapped IPv6 forms share one limit.
      for (let i = 0; i < 10; i++) await login(i % 2 ? "192.0.2.5" : "::ffff:192.0.2.5");
      expect(await login("::ffff:c000:205")).toBe("resource_exhausted");
    } finally {
      await server.close();
    }
  });

  it("finding 11: with REDIS_URL at a closed port, /health says limits are per instance and the log says so once, while limits still hold", async () => {
    const port = await freePort();
    const server = await t.startServer({ env: { AUTH_MODE: "full", REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      expect(await pollUntil(async () => (await health(server)).body.rate_limits === UNAVAILABLE, 5000)).toBe(true);
      const h = await health(server);
      expect(h.status).toBe(200);
      expect(h.body).toMatchObject({ status: "ok", database: "ok", rate_limits: UNAVAILABLE });
      // Limits still hold, per instance.
      const codes: string[] = [];
      for (let i = 0; i < 11; i++) codes.push((await callAs(server, "Login", { email: `c${i}@example.com`, password: "not the password 1" })).code);
      expect(codes.slice(0, 10)).not.toContain("resource_exhausted");
      expect(codes[10]).toBe("resource_exhausted");
      // ioredis keeps retrying (and failing) meanwhile: one log line for the whole outage, per
      // Redis user (the abuse limits here; the API keys' own limits have their own connection).
      expect(logged(server, "redis unavailable; abuse limits")).toHaveLength(1);
      expect(logged(server, "redis unavailable; API-key limits").length).toBeLessThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  it("finding 11: a Redis that goes away and comes back is reported in /health, logged once when it fails and once when it recovers", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const server = await t.startServer({ env: { AUTH_MODE: "full", REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: "f11:" } });
    try {
      expect(await pollUntil(async () => (await health(server)).body.rate_limits === "redis", 5000)).toBe(true);
      expect(logged(server, "redis unavailable")).toHaveLength(0);

      await stopRedis(redis);
      // Requests during the outage fall back to memory and still answer.
      for (let i = 0; i < 5; i++)
        expect((await callAs(server, "Login", { email: `o${i}@example.com`, password: "not the password 1" })).code).toBe("unauthenticated");
      expect(await pollUntil(async () => (await health(server)).body.rate_limits === UNAVAILABLE, 5000)).toBe(true);
      expect((await health(server)).status).toBe(200);
      expect(logged(server, "redis unavailable; abuse limits")).toHaveLength(1);

      redis = await startRedis(port);
      expect(await pollUntil(async () => (await health(server)).body.rate_limits === "redis", 15_000)).toBe(true);
      expect(logged(server, "redis available again; abuse limits")).toHaveLength(1);
      expect(logged(server, "redis unavailable; abuse limits")).toHaveLength(1);
      expect(logged(server, "redis unavailable; API-key limits").length).toBeLessThanOrEqual(1);
    } finally {
      await server.close();
      await stopRedis(redis);
    }
  });
});
