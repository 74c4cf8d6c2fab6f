/**
 * What every scenario runs against: the bench database, the OpenID provider, Tessera
 * instance A with one signed-up owner and one API key made through the API, and the
 * helpers to build and measure loads. `setUpBench` builds it; cleanup is registered.
 */
import pg from "pg";
import { startTestProvider, TEST_RESOURCE, type TestProvider } from "../test/helpers/oidc-provider.js";
import { onCleanup } from "./harness/cleanup.js";
import { connectCall } from "./harness/connect-call.js";
import { createDatabase } from "./harness/database.js";
import { runLoad, type LoadResult, type LoadSpec } from "./harness/load.js";
import { startTessera, type Child } from "./harness/processes.js";
import { sampleRss } from "./harness/rss.js";
import { BENCH_PASSWORD, bearer, CHECK } from "./constants.js";
import type { BenchOptions } from "./options.js";
import { newFigures, type Figures } from "./results.js";

/** An API key made through the API: its id and its value. */
interface ApiKey {
  id: string;
  key: string;
}

/** The shared setup of a run and the helpers scenarios measure with. */
export interface BenchContext {
  opts: BenchOptions;
  log: (line: string) => void;
  /** The bench database (the peer uses it too) and a small pool for fixtures. */
  dbUrl: string;
  pool: pg.Pool;
  /** The local OpenID provider instance A trusts. */
  provider: TestProvider;
  /** The environment every Tessera instance starts with. */
  tesseraEnv: Record<string, string>;
  /** Tessera instance A, the server under load (scenario 8 starts a second one). */
  a: Child;
  /** The bench owner's Tessera JWT, user id and personal account id. */
  jwt: string;
  ownerId: string;
  accountId: string;
  /** An API key accepted by CheckToken; undefined when API keys do not work (their scenarios are then n/a). */
  mainKey: ApiKey | undefined;
  /** Seconds per interleaved round (scenarios 1-4 and 7, and scenario 8's rounds). */
  slice: number;
  /** What the scenarios have measured so far. */
  figures: Figures;
  /** Creates an API key for the owner's account through the API on `base` (undefined, logged, when refused). */
  createKey(base: string, name: string): Promise<ApiKey | undefined>;
  /** A load on `base` + `path` with the run's connections and duration, unless `extra` says otherwise. */
  spec(base: string, path: string, extra?: Partial<LoadSpec>): LoadSpec;
  /** One measured scenario against server(s): optional warm-up, then the loads in parallel with RSS sampled. */
  measure(servers: Child[], specs: LoadSpec[], warm: boolean): Promise<{ runs: LoadResult[]; rss: number }>;
}

/** A different client address per call (the server trusts one proxy hop in the bench). */
export function ipSequence(prefix: number): () => string {
  let n = 0;
  return () => {
    n++;
    return `10.${prefix}.${(n >> 8) & 255}.${n & 255}`;
  };
}

/** Creates the database, starts the provider and instance A, signs the owner up and makes the main API key. */
export async function setUpBench(opts: BenchOptions, log: (line: string) => void): Promise<BenchContext> {
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

  // One user (SignUp), its JWT, its personal account, one API key through the API.
  const signUp = await connectCall(
    a.baseUrl,
    "tessera.v1.AuthService/SignUp",
    { email: "bench-owner@example.test", password: BENCH_PASSWORD, name: "bench" },
    { "x-forwarded-for": ips() },
  );
  if (signUp.status !== 200) throw new Error(`SignUp failed: ${signUp.status} ${JSON.stringify(signUp.json)}`);
  const jwt = String(signUp.json.tokens.accessToken);
  const ownerId = String(signUp.json.tokens.userId);
  const acct = await pool.query<{ id: string }>("select id from accounts where personal_user_id = $1", [ownerId]);
  const accountId = acct.rows[0]!.id;

  async function createKey(base: string, name: string): Promise<ApiKey | undefined> {
    const r = await connectCall(
      base,
      "tessera.v1.ApiKeyService/CreateAccountApiKey",
      { accountId, name, expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString() },
      bearer(jwt),
    );
    if (r.status !== 200 || typeof r.json.keyValue !== "string") {
      log(`bench: CreateAccountApiKey answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
      return undefined;
    }
    return { id: String(r.json.apiKey.id), key: r.json.keyValue as string };
  }
  const created = await createKey(a.baseUrl, "bench-main");
  const mainKey = created !== undefined && (await connectCall(a.baseUrl, CHECK, {}, bearer(created.key))).status === 200 ? created : undefined;

  const spec = (base: string, path: string, extra: Partial<LoadSpec> = {}): LoadSpec => ({
    url: base,
    path,
    connections: opts.connections,
    durationS: opts.durationS,
    ...extra,
  });
  async function measure(servers: Child[], specs: LoadSpec[], warm: boolean): Promise<{ runs: LoadResult[]; rss: number }> {
    if (warm && opts.warmupS > 0) await Promise.all(specs.map((s) => runLoad({ ...s, durationS: opts.warmupS, amount: undefined })));
    const sampler = sampleRss(servers.map((s) => s.pid));
    const runs = await Promise.all(specs.map((s) => runLoad(s)));
    const max = sampler.stop();
    return { runs, rss: Math.max(0, ...Object.values(max)) };
  }

  return {
    opts,
    log,
    dbUrl,
    pool,
    provider,
    tesseraEnv,
    a,
    jwt,
    ownerId,
    accountId,
    mainKey,
    slice: Math.max(1, Math.round(opts.durationS / opts.rounds)),
    figures: newFigures(),
    createKey,
    spec,
    measure,
  };
}
