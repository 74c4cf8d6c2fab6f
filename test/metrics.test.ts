/**
 * The Prometheus endpoint of issue 20: on METRICS_PORT only, never the public port, and
 * every series it documents moves when the thing it counts happens. The dashboard in
 * docs/ may reference only series the endpoint serves.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, useTessera, type TestServer } from "./harness.js";

/** One sample of the text exposition: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(server: TestServer): Promise<Sample[]> {
  const a = server.app.metricsAddress();
  if (!a) throw new Error("metrics listener not started");
  const res = await fetch(`http://127.0.0.1:${a.port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return parseExposition(await res.text());
}

/** The sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe.each(DB_KINDS)("metrics on %s", (db) => {
  const t = useTessera({ db, env: { AUTH_MODE: "full", METRICS_PORT: "0" }, forwardedFor: true });

  it("serves /metrics on its own port only, with build info and Node's event-loop delay", async () => {
    const samples = await scrape(t.server);
    expect(samples.find((s) => s.name === "tessera_build_info")?.labels.node).toBe(process.version);
    expect(samples.some((s) => s.name === "nodejs_eventloop_lag_p99_seconds")).toBe(true);
    const pub = await fetch(`${t.server.baseUrl}/metrics`);
    expect(pub.status).toBe(404);
    await pub.text();
    const other = await fetch(`http://127.0.0.1:${t.server.app.metricsAddress()!.port}/health`);
    expect(other.status).toBe(404);
    await other.text();
  });

  it("counts RPCs by procedure, protocol and code, with latency histograms", async () => {
    const before = await scrape(t.server);
    const proc = "tessera.v1.AuthService/GetAuthConfig";
    for (const protocol of ["connect", "grpc", "grpc-web"] as const) await t.client(AuthService, { protocol }).getAuthConfig({});
    expect(await codeOf(t.client(AuthService).checkToken({}))).toBe(Code.Unauthenticated);
    const after = await scrape(t.server);
    for (const protocol of ["connect", "grpc", "grpc_web"]) {
      const labels = { procedure: proc, protocol, code: "ok" };
      expect(total(after, "tessera_rpc_requests_total", labels) - total(before, "tessera_rpc_requests_total", labels), protocol).toBe(1);
      expect(total(after, "tessera_rpc_duration_seconds_count", labels) - total(before, "tessera_rpc_duration_seconds_count", labels)).toBe(1);
    }
    const refused = { procedure: "tessera.v1.AuthService/CheckToken", code: "unauthenticated" };
    expect(total(after, "tessera_rpc_requests_total", refused) - total(before, "tessera_rpc_requests_total", refused)).toBe(1);
  });

  it("counts authentications by credential kind and outcome, and API-key cache hits and misses", async () => {
    const user = await t.signUp();
    const { accounts } = await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({});
    const created = await t.client(ApiKeyService, { token: user.accessToken }).createAccountApiKey({
      accountId: accounts[0]!.id,
      name: "metrics",
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    const before = await scrape(t.server);
    await t.client(AuthService, { token: created.keyValue }).checkToken({});
    await t.client(AuthService, { token: created.keyValue }).checkToken({});
    await t.client(AuthService, { token: user.accessToken }).checkToken({});
    expect(await codeOf(t.client(AuthService, { token: "tsk_000000000000000000000000000000000000000" }).checkToken({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(t.client(AuthService, { token: "not.a.jwt" }).checkToken({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(t.client(AuthService).checkToken({}))).toBe(Code.Unauthenticated);
    const after = await scrape(t.server);
    const d = (labels: Record<string, string>) =>
      total(after, "tessera_authentications_total", labels) - total(before, "tessera_authentications_total", labels);
    expect(d({ kind: "api_key", outcome: "ok" })).toBe(2);
    expect(d({ kind: "tessera_jwt", outcome: "ok" })).toBe(1);
    expect(d({ kind: "api_key", outcome: "refused" })).toBe(1);
    expect(d({ kind: "jwt", outcome: "refused" })).toBe(1);
    expect(d({ kind: "missing", outcome: "refused" })).toBe(1);
    const cache = (r: string) => total(after, "tessera_api_key_cache_total", { result: r }) - total(before, "tessera_api_key_cache_total", { result: r });
    // The first use after creation reads the database, the second is cached; a key whose
    // checksum is wrong is refused before either.
    expect(cache("hit")).toBe(1);
    expect(cache("miss")).toBe(1);
  });

  it("counts rate-limit refusals, refresh reuse and revocations broadcast and applied, and times queries", async () => {
    const before = await scrape(t.server);
    const ip = t.freshIp();
    const codes: Array<Code | "ok"> = [];
    for (let i = 0; i < 11; i++)
      codes.push(await codeOf(t.client(AuthService, { ip }).login({ email: `nobody${i}@example.test`, password: "wrong password here" })));
    expect(codes.filter((c) => c === Code.ResourceExhausted)).toHaveLength(1);

    const user = await t.signUp();
    const rotated = await t.client(AuthService).refreshToken({ refreshToken: user.refreshToken });
    expect(rotated.tokens?.refreshToken).toBeTruthy();
    // Presenting the rotated token again after the grace window is reuse: the session ends.
    t.clock.advance(60);
    expect(await codeOf(t.client(AuthService).refreshToken({ refreshToken: user.refreshToken }))).toBe(Code.Unauthenticated);

    const after = await scrape(t.server);
    const d = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(d("tessera_rate_limit_refusals_total", { procedure: "AuthService/Login" })).toBe(1);
    expect(d("tessera_refresh_reuse_detections_total")).toBe(1);
    expect(d("tessera_revocation_broadcasts_sent_total")).toBeGreaterThanOrEqual(1);
    expect(d("tessera_revocation_events_received_total")).toBeGreaterThanOrEqual(1);
    expect(d("tessera_revocation_lag_seconds_count")).toBe(d("tessera_revocation_events_received_total"));
    expect(d("tessera_db_query_duration_seconds_count")).toBeGreaterThan(10);
    // The pool's occupancy where there is a pool (PostgreSQL), nothing for the embedded database.
    if (db === "postgres") expect(total(after, "tessera_db_pool_connections", { state: "total" })).toBeGreaterThanOrEqual(1);
    else expect(after.some((s) => s.name === "tessera_db_pool_connections")).toBe(false);
  });
});

describe("metrics off", () => {
  const t = useTessera({ db: "pglite", env: { AUTH_MODE: "full" } });

  it("opens no metrics listener and keeps no registry when METRICS_PORT is unset", async () => {
    expect(t.server.app.metricsAddress()).toBeUndefined();
    expect(t.server.app.deps.metrics.registry).toBeUndefined();
  });
});

describe("the Grafana dashboard in docs/", () => {
  const t = useTessera({ db: "pglite", env: { AUTH_MODE: "full", METRICS_PORT: "0" } });

  it("references only series the endpoint serves", async () => {
    const dashboard = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../docs/grafana-dashboard.json"), "utf8")) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const res = await fetch(`http://127.0.0.1:${t.server.app.metricsAddress()!.port}/metrics`);
    // Every metric family is declared (# TYPE) even before its first labelled sample.
    const declared = new Set([...(await res.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })));
    expect(exprs.length).toBeGreaterThan(8);
    const missing: string[] = [];
    for (const { title, expr } of exprs) {
      for (const m of expr.matchAll(/\b((?:tessera|nodejs|process)_[a-z0-9_]+)/g)) {
        const name = m[1]!;
        if (!declared.has(name) && !declared.has(name.replace(/_(bucket|sum|count)$/, ""))) missing.push(`${title}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
