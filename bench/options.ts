/** The benchmark's settings: the full run of issue 8, or the smoke run the tests use. */
import { wrkAvailable } from "./harness/wrk.js";

/** How long, how wide and how big each scenario runs. */
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
  /** Revocation trials in the embedding service (scenario 10). */
  embedRevocationTrials: number;
  /**
   * The load generator of the interleaved scenarios (BENCH_LOADGEN): wrk (C, cheap: the
   * server sets the pace) by default when installed, else autocannon in this process.
   * The other scenarios always use autocannon (rotating keys, fixed rates, exact counts).
   */
  loadgen: "wrk" | "autocannon";
  /** The Redis of scenario 12r's instance (BENCH_REDIS_URL; default the local one). */
  redisUrl: string;
  /** Only these scenario ids (BENCH_ONLY=9,10); unset: all. Targets of the others are then n/a. */
  only?: string[];
  smoke: boolean;
  /** Install SIGINT/SIGTERM cleanup handlers (the CLI does; tests do not). */
  installSignals?: boolean;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

/** Options from the environment: BENCH_DURATION_S, BENCH_CONNECTIONS, BENCH_ROUNDS, BENCH_LOADGEN, BENCH_ONLY, BENCH_REDIS_URL, BENCH_SMOKE=1 / smoke. */
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
        embedRevocationTrials: 3,
        loadgen: env.BENCH_LOADGEN === "wrk" ? "wrk" : "autocannon",
        redisUrl: redisUrl(env),
        ...only(env),
        smoke: true,
      }
    : {
        durationS: num("BENCH_DURATION_S", 10),
        connections: num("BENCH_CONNECTIONS", 50),
        keys: 100_000,
        smallKeys: 1_000,
        passes: 10,
        rounds: num("BENCH_ROUNDS", 5),
        warmupS: 2,
        loginUsers: 1_000,
        // Twice the libuv pool (4 threads hash): the pool never idles, and logins do not
        // queue for so long that the load generator's 10 s timeout fires.
        loginConnections: 8,
        revocationTrials: 100,
        embedRevocationTrials: 100,
        loadgen: env.BENCH_LOADGEN === "autocannon" || !wrkAvailable() ? "autocannon" : "wrk",
        redisUrl: redisUrl(env),
        ...only(env),
        smoke: false,
      };
}

/** BENCH_REDIS_URL, or the local Redis. */
function redisUrl(env: Record<string, string | undefined>): string {
  return env.BENCH_REDIS_URL?.trim() || "redis://127.0.0.1:6379";
}

/** BENCH_ONLY=9,10: run only those scenarios (ids as in the table; `9` includes 9k and 9j). */
function only(env: Record<string, string | undefined>): { only?: string[] } {
  const v = env.BENCH_ONLY?.trim();
  return v
    ? {
        only: v
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean),
      }
    : {};
}
