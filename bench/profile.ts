/**
 * CPU profile of one benchmark workload on a real Tessera process (`node --cpu-prof`),
 * summarised as the functions with the most self time (share, and µs per request over
 * all requests the process served, so startup is spread thin). For finding where a scenario's
 * cost is, not for figures (the profiler itself slows the server).
 *
 *   npx tsx bench/profile.ts config|config-info|apikey|scoped|jwt|oidc|unseen [seconds]
 *
 * `config-info` is scenario 1i: GetAuthConfig at LOG_LEVEL=info, the lines written to a file.
 * `scoped` is scenario 12m: CheckToken with a key that has a scope and one rate limit.
 *
 * The .cpuprofile is kept under $TMPDIR/tessera-prof-<pid>/ (open it in Chrome DevTools).
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestProvider, TEST_RESOURCE } from "../test/helpers/oidc-provider.js";
import { generateKeys, insertApiKeys } from "./fixtures.js";
import { cleanupAll, installSignalHandlers, onCleanup } from "./harness/cleanup.js";
import { connectCall } from "./harness/connect-call.js";
import { createDatabase } from "./harness/database.js";
import { runLoad } from "./harness/load.js";
import { startTessera } from "./harness/processes.js";
import { summarizeParallel } from "./harness/summary.js";

const workload = process.argv[2] ?? "apikey";
const seconds = Number(process.argv[3] ?? "8");
const CHECK = "/tessera.v1.AuthService/CheckToken";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

/** Self time per function (and per file) from a .cpuprofile; µs per request when `requests` is given. */
function summarise(file: string, requests: number): string {
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const total = prof.nodes.reduce((s, n) => s + n.hitCount, 0);
  const usPerSample = (prof.endTime - prof.startTime) / Math.max(1, prof.samples.length);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const n of prof.nodes) {
    const url = n.callFrame.url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "nm:");
    const short = url.replace(/^\/work\/main\//, "");
    const fn = `${n.callFrame.functionName || "(anonymous)"} ${short}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + n.hitCount);
    const pkg = short.startsWith("nm:")
      ? short
          .split("/")
          .slice(0, short.startsWith("nm:@") ? 2 : 1)
          .join("/")
      : short || n.callFrame.functionName;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + n.hitCount);
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}% ${((hits * usPerSample) / requests).toFixed(2).padStart(7)} µs/req  ${name}`)
      .join("\n");
  return `self time by function (top 30):\n${top(byFn, 30)}\n\nself time by package/file (top 20):\n${top(byFile, 20)}`;
}

installSignalHandlers();
try {
  const dbUrl = await createDatabase(`tessera_prof_${process.pid}`);
  const dir = mkdtempSync(path.join(tmpdir(), `tessera-prof-${process.pid}-`));
  const provider = await startTestProvider();
  onCleanup(() => provider.close());
  const info = workload === "config-info";
  const logFd = info ? openSync(path.join(dir, "server.log"), "w") : undefined;
  const server = await startTessera(
    {
      DATABASE_URL: dbUrl,
      AUTH_MODE: "full",
      TRUST_PROXY_HOPS: "1",
      LOG_LEVEL: info ? "info" : "warn",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
    },
    ["--cpu-prof", `--cpu-prof-dir=${dir}`],
    logFd,
  );
  if (logFd !== undefined) closeSync(logFd);
  const oidcToken = workload === "oidc" ? await provider.accessTokenFor("prof-user") : "";
  const signUp = await connectCall(
    server.baseUrl,
    "/tessera.v1.AuthService/SignUp",
    { email: "prof@example.test", password: "Bench-password-7Qz!k9#Lm2", name: "p" },
    { "x-forwarded-for": "10.9.0.1" },
  );
  const jwt = String(signUp.json.tokens.accessToken);
  const userId = String(signUp.json.tokens.userId);
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  // Scenario 12m's key: one scope and a rate limit far above the load.
  const limited = workload === "scoped" ? { scopes: ["tessera.v1.AuthService/CheckToken"], rateLimits: [{ limit: 1_000_000_000, windowSeconds: 3600 }] } : {};
  const created = await connectCall(
    server.baseUrl,
    "/tessera.v1.ApiKeyService/CreateAccountApiKey",
    { accountId: "", name: "prof", expiresAt: new Date(Date.now() + 86_400_000).toISOString(), ...limited },
    auth(jwt),
  );
  let key = typeof created.json.keyValue === "string" ? (created.json.keyValue as string) : "";
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  onCleanup(() => pool.end());
  const accountId = (await pool.query<{ id: string }>("select id from accounts where personal_user_id = $1", [userId])).rows[0]!.id;
  if (!key) {
    const r = await connectCall(
      server.baseUrl,
      "/tessera.v1.ApiKeyService/CreateAccountApiKey",
      { accountId, name: "prof", expiresAt: new Date(Date.now() + 86_400_000).toISOString(), ...limited },
      auth(jwt),
    );
    key = String(r.json.keyValue);
  }
  let keys: string[] = [];
  if (workload === "unseen") {
    keys = generateKeys(100_000);
    await insertApiKeys(pool, accountId, userId, keys, "prof");
  }
  let i = 0;
  const spec = {
    url: server.baseUrl,
    connections: 50,
    durationS: seconds,
    path: workload === "config" || info ? "/tessera.v1.AuthService/GetAuthConfig" : CHECK,
    headers: workload === "apikey" || workload === "scoped" ? auth(key) : workload === "jwt" ? auth(jwt) : workload === "oidc" ? auth(oidcToken) : {},
    ...(workload === "unseen" ? { vary: () => ({ headers: auth(keys[i++ % keys.length]!) }) } : {}),
  };
  const warm = await runLoad({ ...spec, durationS: 2 });
  const s = summarizeParallel([await runLoad(spec)]);
  const requests = warm.requests + s.requests;
  process.stdout.write(
    `${workload}: ${s.rps.toFixed(0)} req/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, errors ${s.errors} (under the profiler)\n`,
  );
  await server.stop();
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile written in ${dir}`);
  process.stdout.write(`${summarise(path.join(dir, file), requests)}\n\nprofile: ${path.join(dir, file)}\n`);
} finally {
  await cleanupAll();
}
