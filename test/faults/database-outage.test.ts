/**
 * PostgreSQL stopped in the middle of a load: every RPC answers Unavailable within
 * 2 s (no hang, no crash), /health says 503, and the server recovers by itself once
 * PostgreSQL is back. Nothing is left half-written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { DEFAULT_ACCOUNT_ID } from "../../packages/server/src/store/ids.js";
import { createTesseraDatabase, startPgInstance, type PgInstance } from "./pg-instance.js";
import { startServerProcess, type ServerProcess } from "./process.js";

interface CallResult {
  code: string;
  ms: number;
}

async function call(baseUrl: string, path: string, body: unknown): Promise<CallResult> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${baseUrl}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as { code?: string };
    return { code: res.status === 200 ? "ok" : (json.code ?? `http_${res.status}`), ms: performance.now() - t0 };
  } catch (e) {
    return { code: `transport:${(e as Error).name}`, ms: performance.now() - t0 };
  }
}

const listKeys = (baseUrl: string) => call(baseUrl, "tessera.v1.ApiKeyService/GetAccountApiKeys", { accountId: DEFAULT_ACCOUNT_ID });
let seq = 0;
const createKey = (baseUrl: string) =>
  call(baseUrl, "tessera.v1.ApiKeyService/CreateAccountApiKey", {
    accountId: DEFAULT_ACCOUNT_ID,
    name: `fault-${process.pid}-${seq++}`,
    expiresAt: new Date(Date.now() + 86400_000).toISOString(),
  });

describe("database outage", () => {
  let pgi: PgInstance;
  let server: ServerProcess;

  beforeAll(async () => {
    pgi = await startPgInstance();
    server = await startServerProcess({ DATABASE_URL: await createTesseraDatabase(pgi), AUTH_MODE: "none" });
  });
  afterAll(async () => {
    server?.child.kill("SIGKILL");
    pgi?.destroy();
  });

  it("answers Unavailable within 2 s while PostgreSQL is down, reports 503, and recovers without a restart", async () => {
    // Warm: everything works.
    expect((await listKeys(server.baseUrl)).code).toBe("ok");
    expect((await createKey(server.baseUrl)).code).toBe("ok");

    // Load while the database goes away.
    let stop = false;
    const during: CallResult[] = [];
    const workers = Array.from({ length: 6 }, async (_, w) => {
      while (!stop) during.push(await (w % 2 === 0 ? createKey(server.baseUrl) : listKeys(server.baseUrl)));
    });
    await new Promise((r) => setTimeout(r, 300));
    pgi.stop("fast");
    const downAt = performance.now();
    await new Promise((r) => setTimeout(r, 3000));

    const outage: CallResult[] = [];
    for (let i = 0; i < 10; i++) outage.push(await listKeys(server.baseUrl), await createKey(server.baseUrl));
    const health = await fetch(`${server.baseUrl}/health`).catch((e: Error) => {
      throw new Error(`server unreachable during the outage (exit ${server.child.exitCode}): ${e.message}\n${server.output()}`);
    });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "unavailable", database: "unreachable" });

    for (const r of outage) {
      expect(r.code).toBe("unavailable");
      expect(r.ms).toBeLessThan(2000);
    }
    // Nothing hung or crashed during the transition either: only ok or unavailable, each fast.
    for (const r of during) {
      expect(["ok", "unavailable"]).toContain(r.code);
      expect(r.ms).toBeLessThan(2500);
    }
    expect(performance.now() - downAt).toBeGreaterThan(2900);

    pgi.start();
    const deadline = Date.now() + 15_000;
    let recovered = false;
    while (Date.now() < deadline) {
      if ((await listKeys(server.baseUrl)).code === "ok" && (await fetch(`${server.baseUrl}/health`)).status === 200) {
        recovered = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    stop = true;
    await Promise.all(workers);
    expect(recovered).toBe(true);
    expect((await createKey(server.baseUrl)).code).toBe("ok");
    expect(server.child.exitCode).toBeNull();

    // Nothing half-written: every machine user has its key, every key its machine user, every account an admin.
    const c = new pg.Client({ connectionString: pgi.url.replace(/\/postgres$/, "/tessera") });
    await c.connect();
    try {
      const orphanUsers = await c.query(
        "select count(*)::int as n from users u where u.kind = 'machine' and not exists (select 1 from api_keys k where k.user_id = u.id)",
      );
      const orphanKeys = await c.query("select count(*)::int as n from api_keys k where not exists (select 1 from users u where u.id = k.user_id)");
      const adminless = await c.query(
        "select count(*)::int as n from accounts a where not exists (select 1 from memberships m where m.account_id = a.id and m.role = 'admin')",
      );
      expect(orphanUsers.rows[0].n).toBe(0);
      expect(orphanKeys.rows[0].n).toBe(0);
      expect(adminless.rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });
});
