/**
 * A bounded soak: 60 s of mixed calls at a steady rate against the real server process
 * over loopback, zero errors, and memory flat from the first to the last ten seconds.
 * Run with `npm run test:soak` (not part of `npm test`).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { startServerProcess, type ServerProcess } from "../faults/process.js";

const DURATION_S = Number(process.env.SOAK_SECONDS ?? 60);
const RATE = 200; // requests per second
const ADMIN = { email: "soak-admin@example.com", password: "soak admin passphrase 2026" };

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

describe("soak", () => {
  const t = useTessera({ server: false });
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({
      ...t.database.env,
      AUTH_MODE: "admin",
      AUTH_ADMIN_EMAIL: ADMIN.email,
      AUTH_ADMIN_PASSWORD: ADMIN.password,
      TRUST_PROXY_HOPS: "1",
    });
  });
  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.exited;
  });

  it(`serves ${RATE} mixed requests/s for ${DURATION_S} s with zero errors and flat memory`, async () => {
    const call = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${server.baseUrl}/tessera.v1.${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-forwarded-for": t.freshIp(),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const json = (await res.json()) as Record<string, any>;
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const login = await call("AuthService/Login", ADMIN);
    let access = login.tokens.accessToken as string;
    let refresh = login.tokens.refreshToken as string;
    const accountId = (await call("UserAccountService/GetUserAccounts", {}, access)).accounts[0].id as string;
    const expiresAt = new Date(Date.now() + 86400_000).toISOString();
    const apiKey = (await call("ApiKeyService/CreateAccountApiKey", { accountId, name: "soak", expiresAt }, access)).keyValue as string;

    let seq = 0;
    const ops: Array<() => Promise<unknown>> = [
      () => call("AuthService/GetAuthConfig", {}),
      () => call("AuthService/CheckToken", {}, apiKey),
      () => call("AuthService/CheckToken", {}, access),
      () => call("ApiKeyService/GetAccountApiKeys", { accountId }, access),
      () => call("UserAccountService/GetUserAccounts", {}, apiKey),
      async () => {
        const k = await call("ApiKeyService/CreateAccountApiKey", { accountId, name: `soak-${seq++}`, expiresAt }, access);
        await call("ApiKeyService/DeleteAccountApiKey", { id: k.apiKey.id }, access);
      },
    ];

    const errors: string[] = [];
    const samples: Array<{ t: number; rss: number }> = [];
    let done = 0;
    const start = Date.now();
    const end = start + DURATION_S * 1000;
    const inflight = new Set<Promise<unknown>>();
    let tick = 0;
    while (Date.now() < end) {
      const t = Date.now();
      if (tick % RATE === 0) samples.push({ t: (t - start) / 1000, rss: rssMb(server.child.pid!) });
      // Every 20 s: rotate the session (one refresh), as a long-lived client would.
      let op = ops[tick % ops.length]!;
      if (tick > 0 && tick % (RATE * 20) === 0) {
        op = async () => {
          const r = await call("AuthService/RefreshToken", { refreshToken: refresh });
          access = r.tokens.accessToken;
          refresh = r.tokens.refreshToken;
        };
      }
      const p = op()
        .then(() => done++)
        .catch((e: Error) => errors.push(e.message))
        .finally(() => inflight.delete(p));
      inflight.add(p);
      tick++;
      const next = start + (tick * 1000) / RATE;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);

    const first = samples.filter((s) => s.t >= 5 && s.t < 15).map((s) => s.rss);
    const last = samples.filter((s) => s.t >= DURATION_S - 10).map((s) => s.rss);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const summary = {
      requests: done,
      errors: errors.length,
      rssFirst10: avg(first).toFixed(1),
      rssLast10: avg(last).toFixed(1),
      achievedRate: (done / DURATION_S).toFixed(0),
    };
    console.log("soak", JSON.stringify(summary));
    expect(errors.slice(0, 5)).toEqual([]);
    expect(done).toBeGreaterThan(RATE * DURATION_S * 0.9);
    expect(avg(last)).toBeLessThan(avg(first) * 1.15 + 10);
  });
});
