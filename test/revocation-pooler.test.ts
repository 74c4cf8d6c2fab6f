/**
 * Issue 16, gap 1: two instances whose DATABASE_URL goes through Debian's PgBouncer in
 * transaction mode. Without DATABASE_LISTEN_URL, LISTEN never delivers: both say so
 * (/health `degraded`, a log line naming the likely cause and the fix) and still refuse a
 * key deleted on the other within a second (they read the revocation log instead of
 * trusting their caches). With DATABASE_LISTEN_URL pointing at PostgreSQL directly, the
 * broadcast is healthy and the key is refused within a second too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";
import { startPgBouncer, type PgBouncer } from "./helpers/pgbouncer.js";
import { msUntilRejected, type TestServer } from "./helpers/server.js";

interface Health {
  status: string;
  revocation_broadcast?: { status: string; reason?: string };
}

async function health(s: TestServer): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${s.baseUrl}/health`);
  return { code: res.status, body: (await res.json()) as Health };
}

describe("revocation across instances behind PgBouncer (pool_mode = transaction)", () => {
  const t = useTessera({ ownDatabase: true, server: false });
  let bouncer: PgBouncer;
  const servers: TestServer[] = [];
  let direct = "";

  beforeAll(async () => {
    direct = t.database.env.DATABASE_URL!;
    const u = new URL(direct);
    bouncer = await startPgBouncer({ host: u.hostname, port: Number(u.port || 5432) });
  });
  afterAll(async () => {
    // Before PgBouncer stops (the harness would close them only after this hook).
    for (const s of servers.reverse()) await s.close().catch(() => {});
    await bouncer?.stop();
  });

  /** A (AUTH_MODE=none: manages keys as the anonymous admin) and B (full: authenticates with them). */
  async function pair(env: Record<string, string>): Promise<[TestServer, TestServer]> {
    const common = { DATABASE_URL: bouncer.via(direct), REVOCATION_PROBE_INTERVAL_MS: "1000", ...env };
    const a = await t.startServer({ env: common });
    servers.push(a);
    const b = await t.startServer({ env: { ...common, AUTH_MODE: "full" } });
    servers.push(b);
    return [a, b];
  }

  async function deleteOnAExpectRefusedOnB(a: TestServer, b: TestServer): Promise<number> {
    const created = await a.client(ApiKeyService).createAccountApiKey({
      accountId: DEFAULT_ACCOUNT_ID,
      name: `pooled ${Math.random()}`,
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    for (let i = 0; i < 3; i++) {
      const res = await b.client(AuthService, { token: created.keyValue }).checkToken({});
      expect(res.principalKind).toBe(PrincipalKind.API_KEY);
    }
    await a.client(ApiKeyService).deleteAccountApiKey({ id: created.apiKey!.id });
    return msUntilRejected(b, created.keyValue);
  }

  it("without DATABASE_LISTEN_URL: health says the broadcast is broken and why, yet a deleted key is refused within a second", async () => {
    const [a, b] = await pair({});
    for (const s of [a, b]) {
      const h = await health(s);
      expect(h.code).toBe(200);
      expect(h.body.status).toBe("degraded");
      expect(h.body.revocation_broadcast?.status).toBe("broken");
      expect(h.body.revocation_broadcast?.reason).toMatch(/did not come back/);
      expect(s.logs.some((l) => l.includes("revocation broadcast not working") && l.includes("DATABASE_LISTEN_URL") && l.includes("PgBouncer"))).toBe(true);
    }
    for (let i = 0; i < 3; i++) expect(await deleteOnAExpectRefusedOnB(a, b)).toBeLessThan(1000);
  });

  it("with DATABASE_LISTEN_URL direct: the broadcast is healthy and a deleted key is refused within a second", async () => {
    const [a, b] = await pair({ DATABASE_LISTEN_URL: direct });
    for (const s of [a, b]) {
      const h = await health(s);
      expect(h.code).toBe(200);
      expect(h.body.status).toBe("ok");
      expect(h.body.revocation_broadcast).toEqual({ status: "ok" });
    }
    for (let i = 0; i < 3; i++) expect(await deleteOnAExpectRefusedOnB(a, b)).toBeLessThan(1000);
  });
});
