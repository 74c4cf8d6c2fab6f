/**
 * Issue 16 fault tests: the revocation broadcast loses its LISTEN connection
 * (pg_terminate_backend), and PostgreSQL stops and comes back. In every case no revoked
 * credential is accepted after the bound (1 s; while the instance cannot read the
 * revocation log it refuses to answer from its caches: Unavailable, never a stale ok),
 * and the service resumes by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { sql } from "kysely";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ApiKeyService } from "../../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { DEFAULT_ACCOUNT_ID } from "../../packages/server/src/store/ids.js";
import { openDatabase } from "../../packages/server/src/store/db.js";
import { codeOf } from "../helpers/outcome.js";
import type { TestDatabase } from "../helpers/db.js";
import { msUntilRejected, startTestServer, type TestServer } from "../helpers/server.js";
import { createTesseraDatabase, startPgInstance, type PgInstance } from "./pg-instance.js";

const env = { REVOCATION_PROBE_INTERVAL_MS: "500" };

async function newKey(a: TestServer): Promise<{ id: string; value: string }> {
  const res = await a.client(ApiKeyService).createAccountApiKey({
    accountId: DEFAULT_ACCOUNT_ID,
    name: `fault ${Math.random()}`,
    expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
  });
  return { id: res.apiKey!.id, value: res.keyValue };
}

const check = (s: TestServer, key: string) => codeOf(s.client(AuthService, { token: key }).checkToken({}));
const healthStatus = async (s: TestServer) => ((await (await fetch(`${s.baseUrl}/health`)).json()) as { status: string }).status;

describe("revocation when the LISTEN connection is dropped", () => {
  const t = useTessera({ ownDatabase: true, env });
  const a = t.server;
  const b = t.useServer({ env: { ...env, AUTH_MODE: "full" } });

  it("refuses a key deleted while the listeners are being reconnected within a second, and the broadcast heals", async () => {
    for (let round = 0; round < 3; round++) {
      const key = await newKey(a);
      for (let i = 0; i < 3; i++) expect(await check(b, key.value)).toBe("ok");
      // Both listeners are up (after the previous round, they reconnect by themselves).
      const listeners = async () =>
        (
          await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'LISTEN %'`.execute(
            t.database.db.kysely,
          )
        ).rows[0]!.n;
      await expect.poll(listeners, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(2);
      const { rows: killed } = await sql<{ killed: boolean }>`
        select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = current_database() and query like 'LISTEN %'`.execute(
        t.database.db.kysely,
      );
      expect(killed.length).toBeGreaterThanOrEqual(2);
      await a.client(ApiKeyService).deleteAccountApiKey({ id: key.id });
      expect(await msUntilRejected(b, key.value)).toBeLessThan(1000);
    }
    // By itself: the listeners reconnect and the next probes come back.
    await expect.poll(() => healthStatus(b), { timeout: 10_000, interval: 200 }).toBe("ok");
    await expect.poll(() => healthStatus(a), { timeout: 10_000, interval: 200 }).toBe("ok");
    expect(b.logs.some((l) => l.includes("revocation broadcast not working") || l.includes("database connection error"))).toBe(true);
    const fresh = await newKey(a);
    expect(await check(b, fresh.value)).toBe("ok");
  });
});

describe("revocation when PostgreSQL stops and comes back", () => {
  let pgi: PgInstance;
  let database: TestDatabase;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    pgi = await startPgInstance();
    const url = await createTesseraDatabase(pgi);
    const config = { kind: "postgres" as const, url };
    const db = await openDatabase(config);
    database = { kind: "postgres", config, db, env: { DATABASE_URL: url }, drop: () => db.close() };
    a = await startTestServer(database, { ownDatabase: true, env });
    b = await startTestServer(database, { ownDatabase: true, env: { ...env, AUTH_MODE: "full" } });
  });
  afterAll(async () => {
    await b?.close().catch(() => {});
    await a?.close().catch(() => {});
    await database?.drop().catch(() => {});
    pgi?.destroy();
  });

  it("stops answering from its caches within the bound while the log cannot be read, then refuses a key deleted after the restart and serves again", async () => {
    const key = await newKey(a);
    const other = await newKey(a);
    for (let i = 0; i < 3; i++) expect(await check(b, key.value)).toBe("ok");
    expect(await check(b, other.value)).toBe("ok");
    pgi.stop("fast");
    const stoppedAt = performance.now();
    // Within the bound the cached answer may still be used; after it, never "ok" (it cannot know).
    let lastOk = 0;
    while (performance.now() - stoppedAt < 3000) {
      const code = await check(b, key.value);
      if (code === "ok") lastOk = performance.now() - stoppedAt;
      else expect(code).toBe(Code.Unavailable);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lastOk).toBeLessThan(1500);
    expect(await check(b, key.value)).toBe(Code.Unavailable);
    pgi.start();
    await expect.poll(() => healthStatus(a), { timeout: 20_000, interval: 200 }).toBe("ok");
    await a.client(ApiKeyService).deleteAccountApiKey({ id: key.id });
    expect(await msUntilRejected(b, key.value, 5000)).toBeLessThan(1000);
    await expect.poll(() => check(b, other.value), { timeout: 10_000, interval: 200 }).toBe("ok");
    await expect.poll(() => healthStatus(b), { timeout: 20_000, interval: 200 }).toBe("ok");
  });
});
