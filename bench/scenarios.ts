/**
 * The benchmark of issue 8: scenarios 1-8 against real Tessera processes and the
 * Better Auth peer, all in one run, and the targets checked as ratios of that run.
 * `runBench()` returns the results; bench/run.ts prints and writes them.
 */
import os from "node:os";
import pg from "pg";
import { startTestProvider, TEST_RESOURCE, type TestProvider } from "../test/helpers/oidc-provider.js";
import { generateKeys, insertApiKeys, insertLoginUsers } from "./fixtures.js";
import {
  cleanupAll,
  connectCall,
  createDatabase,
  installSignalHandlers,
  onCleanup,
  runLoad,
  sampleRss,
  sleep,
  startPeer,
  startTessera,
  summarizeParallel,
  summarizeSequential,
  type Child,
  type PeerChild,
  type LoadResult,
  type LoadSpec,
  type Summary,
} from "./harness.js";

export interface BenchOptions {
  /** Seconds per measured scenario. */
  durationS: number;
  /** Connections per load generator. */
  connections: number;
  /** Keys in the database for scenario 5 (the issue: 100,000). */
  keys: number;
  /** Keys in the database for scenario 5's comparison point (the issue: 1,000). */
  smallKeys: number;
  /** Interleaved rounds of scenarios 1-4 (each a durationS / rounds slice). */
  rounds: number;
  /** Cache-flushed passes over the small key set at each table size (scenario 5 comparison). */
  passes: number;
  /** Warm-up seconds before scenarios 1-4, 7 and 8 (not measured). */
  warmupS: number;
  /** Concurrent logins in scenario 6. */
  loginConnections: number;
  /** Password users for scenario 6 (each logs in a few times, with the right password). */
  loginUsers: number;
  /** Revocation trials in scenario 8. */
  revocationTrials: number;
  smoke: boolean;
  /** Install SIGINT/SIGTERM cleanup handlers (the CLI does; tests do not). */
  installSignals?: boolean;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

/** Options from the environment: BENCH_DURATION_S, BENCH_CONNECTIONS, BENCH_SMOKE=1 / smoke. */
export function benchOptions(smoke: boolean, env: Record<string, string | undefined> = process.env): BenchOptions {
  const num = (name: string, def: number) => {
    const v = env[name];
    if (v === undefined || v === "") return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
    return n;
  };
  return smoke
    ? {
        durationS: num("BENCH_DURATION_S", 2),
        connections: num("BENCH_CONNECTIONS", 10),
        keys: 1_000,
        smallKeys: 200,
        passes: 1,
        rounds: 1,
        warmupS: 0.3,
        loginUsers: 200,
        loginConnections: 4,
        revocationTrials: 2,
        smoke: true,
      }
    : {
        durationS: num("BENCH_DURATION_S", 10),
        connections: num("BENCH_CONNECTIONS", 50),
        keys: 100_000,
        smallKeys: 1_000,
        passes: 10,
        rounds: 5,
        warmupS: 2,
        loginUsers: 1_000,
        // Twice the libuv pool (4 threads hash): the pool never idles, and logins do not
        // queue for so long that the load generator's 10 s timeout fires.
        loginConnections: 8,
        revocationTrials: 10,
        smoke: false,
      };
}

export interface Row {
  id: string;
  scenario: string;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number | null;
  requests: number | null;
  /** Max RSS of the server process(es) measured, MB. */
  rssMb: number | null;
  /** Why there are no numbers (feature missing), or extra facts. */
  note?: string;
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  /** The measured ratio or value the check compares. */
  value: number | null;
  pass: boolean | null;
  note?: string;
}

export interface BenchResults {
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    node: string;
    platform: string;
    date: string;
    /** 1-minute load average when the run started and ended (other work on the same cores skews every figure). */
    loadAvgStart: number;
    loadAvgEnd: number;
  };
  settings: Omit<BenchOptions, "log" | "installSignals"> & { logLevel: string; pipelining: number };
  rows: Row[];
  /** Scenario 8: ms from sending the delete to the other instance refusing the key, and from the delete's response. */
  revocation: { crossInstanceMs: number[]; crossAfterResponseMs: number[]; sameInstanceMs: number[] } | null;
  scenario5Comparison: { small: Summary; large: Summary; smallKeys: number; largeKeys: number } | null;
  targets: Target[];
}

const CHECK = "/tessera.v1.AuthService/CheckToken";
const CONFIG = "/tessera.v1.AuthService/GetAuthConfig";
const LOGIN = "/tessera.v1.AuthService/Login";
/** Offered rate of the open-loop variants of scenarios 5 and 6 (req/s). */
const FIXED_RATE = 200;
/**
 * Connections of the open-loop runs. autocannon paces each connection separately and
 * they fire together, so 50 connections at 200 req/s would arrive as bursts of 50 and
 * measure the burst; 4 keep bursts small while still letting slow requests overlap.
 */
const FIXED_CONNECTIONS = 4;
const BENCH_PASSWORD = "Bench-password-7Qz!k9#Lm2";

/** A different client address per call (the server trusts one proxy hop in the bench). */
function ipSequence(prefix: number): () => string {
  let n = 0;
  return () => {
    n++;
    return `10.${prefix}.${(n >> 8) & 255}.${n & 255}`;
  };
}

function row(id: string, scenario: string, s: Summary, rss: number | undefined, note?: string): Row {
  return { id, scenario, rps: s.rps, p50Ms: s.p50, p99Ms: s.p99, errors: s.errors, requests: s.requests, rssMb: rss ?? null, ...(note ? { note } : {}) };
}

function na(id: string, scenario: string, reason: string): Row {
  return { id, scenario, rps: null, p50Ms: null, p99Ms: null, errors: null, requests: null, rssMb: null, note: `n/a (${reason})` };
}

/** Runs the whole benchmark. Always stops its processes and drops its databases. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  if (opts.installSignals !== false) installSignalHandlers();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  try {
    return await benchBody(opts, log);
  } finally {
    await cleanupAll();
  }
}

async function benchBody(opts: BenchOptions, log: (l: string) => void): Promise<BenchResults> {
  const { durationS, connections } = opts;
  const rows: Row[] = [];
  const targets: Target[] = [];
  const started = new Date();
  const loadAvgStart = Math.round(os.loadavg()[0]! * 100) / 100;
  const dbName = `tessera_bench_${process.pid}`;
  const dbUrl = await createDatabase(dbName);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  onCleanup(() => pool.end());

  log(`bench: database ${dbName}; starting the OpenID provider and Tessera (AUTH_MODE=full, LOG_LEVEL=warn)`);
  const provider: TestProvider = await startTestProvider();
  onCleanup(() => provider.close());
  const tesseraEnv: Record<string, string> = {
    DATABASE_URL: dbUrl,
    AUTH_MODE: "full",
    AUTH_BASEURL: provider.issuer,
    AUTH_AUDIENCE: TEST_RESOURCE,
    // The load generator stands in for many clients behind one proxy: it sends a
    // different X-Forwarded-For per login, so per-IP login limits stay as they are.
    TRUST_PROXY_HOPS: "1",
    LOG_LEVEL: "warn",
  };
  const a = await startTessera(tesseraEnv);
  const ips = ipSequence(1);

  // --- setup: one user (SignUp), its JWT, its personal account, one API key through the API.
  const signUp = await connectCall(a.baseUrl, "tessera.v1.AuthService/SignUp", { email: "bench-owner@example.test", password: BENCH_PASSWORD, name: "bench" }, { "x-forwarded-for": ips() });
  if (signUp.status !== 200) throw new Error(`SignUp failed: ${signUp.status} ${JSON.stringify(signUp.json)}`);
  const jwt = String(signUp.json.tokens.accessToken);
  const ownerId = String(signUp.json.tokens.userId);
  const acct = await pool.query<{ id: string }>("select id from accounts where personal_user_id = $1", [ownerId]);
  const accountId = acct.rows[0]!.id;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  async function createKey(base: string, name: string): Promise<{ id: string; key: string } | undefined> {
    const r = await connectCall(
      base,
      "tessera.v1.ApiKeyService/CreateAccountApiKey",
      { accountId, name, expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString() },
      auth(jwt),
    );
    if (r.status !== 200 || typeof r.json.keyValue !== "string") {
      log(`bench: CreateAccountApiKey answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
      return undefined;
    }
    return { id: String(r.json.apiKey.id), key: r.json.keyValue as string };
  }
  const mainKey = await createKey(a.baseUrl, "bench-main");
  const apiKeysWork = mainKey !== undefined && (await connectCall(a.baseUrl, CHECK, {}, auth(mainKey.key))).status === 200;

  let oidcToken: string | undefined;
  let oidcReason = "";
  try {
    oidcToken = await provider.accessTokenFor("bench-oidc-user");
    const r = await connectCall(a.baseUrl, CHECK, {}, auth(oidcToken)); // first use provisions the user
    if (r.status !== 200) {
      oidcReason = `CheckToken with a provider token answered ${r.status} ${JSON.stringify(r.json).slice(0, 120)}`;
      oidcToken = undefined;
    }
  } catch (e) {
    oidcReason = `provider token: ${(e as Error).message}`;
    oidcToken = undefined;
  }

  /** One measured scenario against server(s): optional warm-up, then the run with RSS sampled. */
  async function measure(servers: Child[], specs: LoadSpec[], warm: boolean): Promise<{ runs: LoadResult[]; rss: number }> {
    if (warm && opts.warmupS > 0) await Promise.all(specs.map((s) => runLoad({ ...s, durationS: opts.warmupS, amount: undefined })));
    const sampler = sampleRss(servers.map((s) => s.pid));
    const runs = await Promise.all(specs.map((s) => runLoad(s)));
    const max = sampler.stop();
    return { runs, rss: Math.max(0, ...Object.values(max)) };
  }
  const spec = (base: string, path: string, extra: Partial<LoadSpec> = {}): LoadSpec => ({ url: base, path, connections, durationS, ...extra });

  // The peer (scenario 7) runs in its own process on the same PostgreSQL database.
  let peer: PeerChild | undefined;
  let peerReason = "";
  try {
    peer = await startPeer(dbUrl, 1);
  } catch (e) {
    peerReason = (e as Error).message.slice(0, 200);
  }

  // --- 1-4 and 7, interleaved: `rounds` rounds of scenarios 1, 2, 3, 4, 7, each round
  // a `durationS / rounds` slice, so a machine that drifts (other work on the same
  // cores) shifts every scenario alike and the ratios between them hold.
  type Quick = { id: string; name: string; server: Child; path: string; headers?: Record<string, string>; body?: string };
  const quick: Quick[] = [{ id: "1", name: "GetAuthConfig (public, no auth)", server: a, path: CONFIG }];
  if (apiKeysWork) quick.push({ id: "2", name: "CheckToken, API key (cache warm)", server: a, path: CHECK, headers: auth(mainKey!.key) });
  quick.push({ id: "3", name: "CheckToken, Tessera JWT (ES256)", server: a, path: CHECK, headers: auth(jwt) });
  if (oidcToken) quick.push({ id: "4", name: "CheckToken, OpenID provider JWT (RS256, keys cached)", server: a, path: CHECK, headers: auth(oidcToken) });
  if (peer) {
    quick.push({
      id: "7",
      name: "Peer: Better Auth 1.7.5 api-key verify (rate limit off)",
      server: peer,
      path: "/api/auth/api-key/verify",
      body: JSON.stringify({ key: peer.keys[0] }),
    });
  }
  log(`bench: ${quick.map((q) => q.id).join(", ")} interleaved, ${opts.rounds} round(s)`);
  const quickSpec = (q: Quick, durS: number) => spec(q.server.baseUrl, q.path, { headers: q.headers, body: q.body, durationS: durS });
  for (const q of quick) if (opts.warmupS > 0) await runLoad(quickSpec(q, opts.warmupS));
  const slices = new Map<string, LoadResult[]>(quick.map((q) => [q.id, []]));
  const quickRss = new Map<string, number>();
  const slice = Math.max(1, Math.round(durationS / opts.rounds));
  for (let r = 0; r < opts.rounds; r++) {
    for (const q of quick) {
      const sampler = sampleRss([q.server.pid]);
      slices.get(q.id)!.push(await runLoad(quickSpec(q, slice)));
      quickRss.set(q.id, Math.max(quickRss.get(q.id) ?? 0, ...Object.values(sampler.stop())));
    }
  }
  await peer?.stop();
  const quickSummary = (id: string) => (slices.has(id) ? summarizeSequential(slices.get(id)!) : undefined);
  const s1 = quickSummary("1")!;
  const s2 = quickSummary("2");
  const s3 = quickSummary("3")!;
  const s4 = quickSummary("4");
  const s7 = quickSummary("7");
  for (const q of quick) if (q.id !== "7") rows.push(row(q.id, q.name, quickSummary(q.id)!, quickRss.get(q.id)));
  if (!s2) rows.splice(1, 0, na("2", "CheckToken, API key (cache warm)", "API keys not available"));
  if (!s4) rows.push(na("4", "CheckToken, OpenID provider JWT", oidcReason || "provider tokens not available"));

  // --- 5. Unseen keys with 1,000 and 100,000 keys in the database.
  let s5: Summary | undefined;
  let s5fixed: Summary | undefined;
  let s6fixed: Summary | undefined;
  let comparison: BenchResults["scenario5Comparison"] = null;
  let rss5 = 0;
  if (apiKeysWork) {
    log(`bench: 5 inserting ${opts.smallKeys} keys`);
    const small = generateKeys(opts.smallKeys);
    await insertApiKeys(pool, accountId, ownerId, small, "bench-small");
    /** Cache-flushed passes, each key once per pass: the flush is the `*` revocation broadcast every instance listens to. */
    async function passes(): Promise<LoadResult[]> {
      const out: LoadResult[] = [];
      // Pass 0 is a warm-up (query plans, PostgreSQL buffers), not measured.
      for (let p = -1; p < opts.passes; p++) {
        await pool.query("select pg_notify('tessera_api_key_revoked', '*')");
        await sleep(100);
        let i = 0;
        const sampler = sampleRss([a.pid]);
        out.push(
          await runLoad(
            spec(a.baseUrl, CHECK, {
              amount: small.length,
              connections: Math.min(connections, small.length),
              vary: () => ({ headers: auth(small[i++ % small.length]!) }),
            }),
          ),
        );
        rss5 = Math.max(rss5, ...Object.values(sampler.stop()));
        if (p < 0) out.pop();
      }
      return out;
    }
    const smallRuns = await passes();
    log(`bench: 5 inserting ${opts.keys - opts.smallKeys} more keys (${opts.keys} in all)`);
    const large = generateKeys(opts.keys - opts.smallKeys);
    await insertApiKeys(pool, accountId, ownerId, large, "bench-large");
    const largeRuns = await passes();
    comparison = { small: summarizeSequential(smallRuns), large: summarizeSequential(largeRuns), smallKeys: opts.smallKeys, largeKeys: opts.keys };
    rows.push(row("5a", `  unseen keys, ${opts.smallKeys.toLocaleString("en")} in DB (${opts.passes} x ${opts.smallKeys} requests)`, comparison.small, rss5));
    rows.push(row("5b", `  unseen keys, ${opts.keys.toLocaleString("en")} in DB (same requests)`, comparison.large, rss5));

    log(`bench: 5 CheckToken, unseen keys, ${opts.keys} in the database`);
    // Each of the other keys at most once: never a cache hit.
    let i = 0;
    let reused = false;
    const m = await measure([a], [
      spec(a.baseUrl, CHECK, {
        vary: () => {
          if (i >= large.length) reused = true;
          return { headers: auth(large[i++ % large.length]!) };
        },
      }),
    ], false);
    s5 = summarizeParallel(m.runs);
    // The same at a fixed offered rate: what one verification costs without 50 requests queueing for it.
    const m5r = await measure([a], [
      spec(a.baseUrl, CHECK, {
        rate: FIXED_RATE,
        connections: FIXED_CONNECTIONS,
        vary: () => {
          if (i >= large.length) reused = true;
          return { headers: auth(large[i++ % large.length]!) };
        },
      }),
    ], false);
    s5fixed = summarizeParallel(m5r.runs);
    rows.splice(
      rows.length - 2,
      0,
      row("5", `CheckToken, API keys not in cache, ${opts.keys.toLocaleString("en")} in DB`, s5, Math.max(m.rss, rss5), reused ? "ran out of unseen keys: some requests were cache hits" : undefined),
      row("5r", `  same, offered at a fixed ${FIXED_RATE} req/s (${FIXED_CONNECTIONS} connections)`, s5fixed, m5r.rss),
    );
  } else {
    rows.push(na("5", "CheckToken, API keys not in cache", "API keys not available"));
  }

  // --- 6. Logins (argon2id) at full load alongside scenario 2.
  if (apiKeysWork) {
    log(`bench: 6 logins alongside API-key CheckToken (${opts.loginUsers} users)`);
    const emails = await insertLoginUsers(pool, opts.loginUsers, BENCH_PASSWORD);
    const loginIps = ipSequence(2);
    let n = 0;
    const m = await measure([a], [
      spec(a.baseUrl, CHECK, { headers: auth(mainKey!.key) }),
      spec(a.baseUrl, LOGIN, {
        connections: opts.loginConnections,
        vary: () => ({ headers: { "x-forwarded-for": loginIps() }, body: JSON.stringify({ email: emails[n++ % emails.length], password: BENCH_PASSWORD }) }),
      }),
    ], false);
    const keyRun = summarizeParallel([m.runs[0]!]);
    const loginRun = summarizeParallel([m.runs[1]!]);
    const perUser = loginRun.requests / emails.length;
    rows.push(row("6", "CheckToken, API key, during logins", keyRun, m.rss));
    rows.push(row("6L", `  Login (argon2id) alongside, ${opts.loginConnections} connections`, loginRun, m.rss, perUser > 10 ? "near the per-email limit" : undefined));
    const m6r = await measure([a], [
      spec(a.baseUrl, CHECK, { headers: auth(mainKey!.key), rate: FIXED_RATE, connections: FIXED_CONNECTIONS }),
      spec(a.baseUrl, LOGIN, {
        connections: opts.loginConnections,
        vary: () => ({ headers: { "x-forwarded-for": loginIps() }, body: JSON.stringify({ email: emails[n++ % emails.length], password: BENCH_PASSWORD }) }),
      }),
    ], false);
    s6fixed = summarizeParallel([m6r.runs[0]!]);
    rows.push(row("6r", `  same, API key offered at a fixed ${FIXED_RATE} req/s (${FIXED_CONNECTIONS} connections) during logins`, s6fixed, m6r.rss));
    rows.push(row("6rL", `  Login alongside 6r`, summarizeParallel([m6r.runs[1]!]), m6r.rss));
  } else rows.push(na("6", "CheckToken, API key, during logins", "API keys not available"));

  // --- 7 (measured above, interleaved with 1-4).
  const peerRow = quick.find((q) => q.id === "7");
  if (peerRow && s7) rows.push(row("7", peerRow.name, s7, quickRss.get("7")));
  else rows.push(na("7", "Peer: Better Auth api-key verify", peerReason || "peer did not start"));

  // --- 8. Two instances on one database.
  let s8: Summary | undefined;
  let s8one: Summary | undefined;
  let revocation: BenchResults["revocation"] = null;
  if (apiKeysWork) {
    log("bench: 8 second instance, both under load");
    const b = await startTessera(tesseraEnv);
    const warmB = await connectCall(b.baseUrl, CHECK, {}, auth(mainKey!.key));
    if (warmB.status !== 200) throw new Error(`instance B rejected the key: ${warmB.status}`);
    // Rounds of (A alone, A and B together), so the ratio compares like with like.
    const keySpec = (base: string, durS: number) => spec(base, CHECK, { headers: auth(mainKey!.key), durationS: durS });
    if (opts.warmupS > 0) await Promise.all([runLoad(keySpec(a.baseUrl, opts.warmupS)), runLoad(keySpec(b.baseUrl, opts.warmupS))]);
    const alone: LoadResult[] = [];
    const both: Summary[] = [];
    let rss8 = 0;
    for (let r = 0; r < opts.rounds; r++) {
      alone.push(await runLoad(keySpec(a.baseUrl, slice)));
      const sampler = sampleRss([a.pid, b.pid]);
      both.push(summarizeParallel(await Promise.all([runLoad(keySpec(a.baseUrl, slice)), runLoad(keySpec(b.baseUrl, slice))])));
      rss8 = Math.max(rss8, ...Object.values(sampler.stop()));
    }
    s8one = summarizeSequential(alone);
    const total = both.reduce((x, y) => x + y.requests, 0);
    s8 = {
      rps: both.reduce((x, y) => x + y.rps, 0) / both.length,
      // Pooled percentiles are not derivable from per-round summaries: take the worst round.
      p50: Math.max(...both.map((x) => x.p50)),
      p99: Math.max(...both.map((x) => x.p99)),
      errors: both.reduce((x, y) => x + y.errors, 0),
      requests: total,
    };
    rows.push(row("8", "CheckToken, API key, two instances together", s8, rss8, "p50/p99: worst round"));
    rows.push(row("8a", "  same, one instance (interleaved with 8)", s8one, rss8));

    log("bench: 8 revocation across instances");
    const cross: number[] = [];
    const crossAfter: number[] = [];
    const same: number[] = [];
    for (let t = 0; t < opts.revocationTrials; t++) {
      const k = await createKey(a.baseUrl, `bench-revoke-${t}`);
      if (!k) throw new Error("could not create a key for the revocation trial");
      for (const s of [a, b]) {
        const r = await connectCall(s.baseUrl, CHECK, {}, auth(k.key));
        if (r.status !== 200) throw new Error(`fresh key rejected before revocation: ${r.status}`);
      }
      const t0 = performance.now();
      const del = await connectCall(a.baseUrl, "tessera.v1.ApiKeyService/DeleteAccountApiKey", { id: k.id }, auth(jwt));
      const t1 = performance.now();
      if (del.status !== 200) throw new Error(`DeleteAccountApiKey answered ${del.status}`);
      const onA = await connectCall(a.baseUrl, CHECK, {}, auth(k.key));
      same.push(onA.status === 200 ? Number.POSITIVE_INFINITY : performance.now() - t0);
      const deadline = t0 + 5_000;
      let seen = Number.POSITIVE_INFINITY;
      while (performance.now() < deadline) {
        const r = await connectCall(b.baseUrl, CHECK, {}, auth(k.key));
        if (r.status !== 200) {
          seen = performance.now() - t0;
          break;
        }
        await sleep(10);
      }
      cross.push(seen);
      crossAfter.push(Math.max(0, seen - (t1 - t0)));
    }
    revocation = { crossInstanceMs: cross, crossAfterResponseMs: crossAfter, sameInstanceMs: same };
    await b.stop();
  } else rows.push(na("8", "Two instances", "API keys not available"));

  // --- targets
  const ratio = (x: Summary | undefined, y: Summary | undefined) => (x && y && y.rps > 0 ? x.rps / y.rps : null);
  const fmt = (v: number | null, d = 2) => (v === null || !Number.isFinite(v) ? "n/a" : v.toFixed(d));
  const check = (name: string, target: string, value: number | null, ok: (v: number) => boolean, measured: string, note?: string) =>
    targets.push({ name, target, value, measured, pass: value === null ? null : ok(value), ...(note ? { note } : {}) });

  const r2 = ratio(s2, s1);
  check("2 vs 1 throughput", ">= 0.90", r2, (v) => v >= 0.9, `${fmt(r2)} (${fmt(s2?.rps ?? null, 0)} / ${fmt(s1.rps, 0)} rps)`);
  const r3 = ratio(s3, s1);
  check("3 vs 1 throughput", ">= 0.85", r3, (v) => v >= 0.85, `${fmt(r3)} (${fmt(s3.rps, 0)} / ${fmt(s1.rps, 0)} rps)`);
  const r4 = ratio(s4, s1);
  check("4 vs 1 throughput", ">= 0.85", r4, (v) => v >= 0.85, `${fmt(r4)} (${fmt(s4?.rps ?? null, 0)} / ${fmt(s1.rps, 0)} rps)`, s4 ? undefined : oidcReason);
  check("5 p99", "<= 5 ms", s5?.p99 ?? null, (v) => v <= 5, `${fmt(s5?.p99 ?? null)} ms at ${connections} connections; ${fmt(s5fixed?.p99 ?? null)} ms at a fixed ${FIXED_RATE} req/s`);
  if (comparison) {
    const p50r = comparison.large.p50 / comparison.small.p50;
    const rpsr = comparison.large.rps / comparison.small.rps;
    check(
      `5 cost at ${comparison.largeKeys} vs ${comparison.smallKeys} keys`,
      "p50 <= 1.10x and throughput >= 0.90x",
      Math.max(p50r, 1 / rpsr),
      (v) => v <= 1.1,
      `p50 ${fmt(comparison.large.p50)} vs ${fmt(comparison.small.p50)} ms (x${fmt(p50r)}), throughput x${fmt(rpsr)}`,
    );
  } else check("5 cost at 100,000 vs 1,000 keys", "within 10%", null, () => false, "n/a");
  const s6row = rows.find((r) => r.id === "6");
  check("6 API-key p99 during logins", "<= 20 ms", s6row?.p99Ms ?? null, (v) => v <= 20, `${fmt(s6row?.p99Ms ?? null)} ms at ${connections} connections; ${fmt(s6fixed?.p99 ?? null)} ms at a fixed ${FIXED_RATE} req/s`);
  const r7 = ratio(s2, s7);
  const instant = revocation ? revocation.sameInstanceMs.every((v) => Number.isFinite(v)) && Math.max(...revocation.crossInstanceMs) <= 1000 : null;
  check(
    "2 vs 7 (peer) throughput, revocation instant",
    ">= 5x, revoked key rejected on the next request",
    r7,
    (v) => v >= 5 && instant !== false,
    `${fmt(r7)}x (${fmt(s2?.rps ?? null, 0)} / ${fmt(s7?.rps ?? null, 0)} rps); revoked key refused on the revoking instance's next request: ${instant === null ? "n/a" : revocation!.sameInstanceMs.every((v) => Number.isFinite(v)) ? "yes" : "no"}`,
    s7 ? undefined : peerReason,
  );
  const maxCross = revocation ? Math.max(...revocation.crossInstanceMs) : null;
  check("8 revocation seen on the other instance", "<= 1000 ms", maxCross, (v) => v <= 1000, `max ${fmt(maxCross, 1)} ms over ${revocation?.crossInstanceMs.length ?? 0} trials (median ${fmt(revocation ? median(revocation.crossInstanceMs) : null, 1)} ms; median ${fmt(revocation ? median(revocation.crossAfterResponseMs) : null, 1)} ms after the delete's response)`);
  const r8 = ratio(s8, s8one);
  check("8 two instances vs one", ">= 1.6x", r8, (v) => v >= 1.6, `${fmt(r8)}x (${fmt(s8?.rps ?? null, 0)} / ${fmt(s8one?.rps ?? null, 0)} rps)`);
  const tesseraRss = rows.filter((r) => r.id !== "7" && r.rssMb !== null).map((r) => r.rssMb!);
  const maxRss = tesseraRss.length ? Math.max(...tesseraRss) : null;
  check("Tessera RSS under load", "<= 250 MB", maxRss, (v) => v <= 250, `max ${fmt(maxRss, 0)} MB`);

  const cpus = os.cpus();
  return {
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? "unknown",
      memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      date: started.toISOString(),
      loadAvgStart,
      loadAvgEnd: Math.round(os.loadavg()[0]! * 100) / 100,
    },
    settings: {
      durationS: opts.durationS,
      connections: opts.connections,
      keys: opts.keys,
      smallKeys: opts.smallKeys,
      passes: opts.passes,
      rounds: opts.rounds,
      warmupS: opts.warmupS,
      loginUsers: opts.loginUsers,
      loginConnections: opts.loginConnections,
      revocationTrials: opts.revocationTrials,
      smoke: opts.smoke,
      logLevel: "warn",
      pipelining: 1,
    },
    rows,
    revocation,
    scenario5Comparison: comparison,
    targets,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** The one table: scenario, requests/s, p50, p99, errors, server RSS. */
export function formatTable(res: BenchResults): string {
  const head = ["#", "scenario", "req/s", "p50 ms", "p99 ms", "errors", "RSS MB"];
  const f = (v: number | null, d: number) => (v === null || !Number.isFinite(v) ? "-" : v.toFixed(d));
  const body = res.rows.map((r) =>
    r.rps === null
      ? [r.id, r.scenario, r.note ?? "n/a", "", "", "", ""]
      : [r.id, r.scenario + (r.note ? ` [${r.note}]` : ""), f(r.rps, 0), f(r.p50Ms, 2), f(r.p99Ms, 2), String(r.errors), f(r.rssMb, 0)],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i >= 2 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(head), sep, ...body.map(line)].join("\n");
}

/** The targets as a table (target, measured, met). */
export function formatTargets(res: BenchResults): string {
  const head = ["target", "goal", "measured", "met"];
  const body = res.targets.map((t) => [t.name, t.target, t.measured + (t.note ? ` (${t.note})` : ""), t.pass === null ? "n/a" : t.pass ? "yes" : "NO"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const sep = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(head), sep, ...body.map(line)].join("\n");
}
