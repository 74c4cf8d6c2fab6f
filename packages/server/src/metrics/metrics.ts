/**
 * What Tessera counts for Prometheus (docs/operations.md lists every series). Components
 * record through the `Metrics` interface they receive in `deps`; with METRICS_PORT unset
 * they get `NO_METRICS`, whose calls do nothing, so an instance without a scraper pays
 * nothing for them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The wire protocol of an RPC, from its content type. */
export type RpcProtocol = "connect" | "grpc" | "grpc_web";

/** How a caller's credential fared: `kind` is the credential's kind, never any part of it. */
type AuthOutcome = "ok" | "refused" | "error";

/** Pool occupancy of the database connection pool (PostgreSQL; the embedded database has none). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** The recording side, as components see it. */
export interface Metrics {
  /** The registry to serve; undefined when metrics are off. */
  readonly registry: Registry | undefined;
  rpc(procedure: string, protocol: RpcProtocol, code: string, seconds: number): void;
  authentication(kind: string, outcome: AuthOutcome): void;
  rateLimited(procedure: string): void;
  refreshReuseDetected(): void;
  apiKeyCache(result: "hit" | "miss"): void;
  revocationBroadcastSent(): void;
  /** A revocation event applied here; `lagSeconds` from its recording to now. */
  revocationReceived(lagSeconds: number): void;
  dbQuery(seconds: number): void;
  /** Reads the pool's occupancy at each scrape. */
  watchPool(read: () => PoolStats | undefined): void;
}

/** Metrics off: every call is a no-op. */
export const NO_METRICS: Metrics = Object.freeze({
  registry: undefined,
  rpc() {},
  authentication() {},
  rateLimited() {},
  refreshReuseDetected() {},
  apiKeyCache() {},
  revocationBroadcastSent() {},
  revocationReceived() {},
  dbQuery() {},
  watchPool() {},
});

// Latency buckets from 0.5 ms (a cached API-key check) to 10 s (a login under a tarpit).
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30];

/** A registry of Tessera's series plus Node's defaults (event-loop delay, heap, GC, CPU). */
export function createMetrics(opts: { version: string }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: "tessera_build_info",
    help: "Always 1; the labels say which Tessera and Node.js run.",
    labelNames: ["version", "node"],
    registers,
  }).set({ version: opts.version, node: process.version }, 1);
  const rpcTotal = new Counter({
    name: "tessera_rpc_requests_total",
    help: "RPCs answered, by procedure, protocol and Connect code.",
    labelNames: ["procedure", "protocol", "code"],
    registers,
  });
  const rpcSeconds = new Histogram({
    name: "tessera_rpc_duration_seconds",
    help: "Time from an RPC's arrival at the interceptors to its answer.",
    labelNames: ["procedure", "protocol", "code"],
    buckets: RPC_BUCKETS,
    registers,
  });
  const auth = new Counter({
    name: "tessera_authentications_total",
    help: "Credentials presented to procedures that need one, by kind (api_key, tessera_jwt, provider_jwt, jwt, missing, malformed) and outcome (ok, refused, error: the check itself failed).",
    labelNames: ["kind", "outcome"],
    registers,
  });
  const limited = new Counter({
    name: "tessera_rate_limit_refusals_total",
    help: "Requests refused by an abuse limit (ResourceExhausted), by procedure.",
    labelNames: ["procedure"],
    registers,
  });
  const reuse = new Counter({
    name: "tessera_refresh_reuse_detections_total",
    help: "Refresh tokens presented again after rotation outside the grace window: the session was ended.",
    registers,
  });
  const keyCache = new Counter({
    name: "tessera_api_key_cache_total",
    help: "API-key verifications answered from the in-process cache (hit) or the database (miss).",
    labelNames: ["result"],
    registers,
  });
  const sent = new Counter({ name: "tessera_revocation_broadcasts_sent_total", help: "Revocations this instance recorded and announced.", registers });
  const received = new Counter({
    name: "tessera_revocation_events_received_total",
    help: "Revocation events this instance applied to its caches (its own included).",
    registers,
  });
  const lag = new Histogram({
    name: "tessera_revocation_lag_seconds",
    help: "From a revocation's recording to its application on this instance.",
    buckets: LAG_BUCKETS,
    registers,
  });
  const dbSeconds = new Histogram({
    name: "tessera_db_query_duration_seconds",
    help: "Database query time, as Kysely sees it.",
    buckets: DB_BUCKETS,
    registers,
  });
  const pools: Array<() => PoolStats | undefined> = [];
  new Gauge({
    name: "tessera_db_pool_connections",
    help: "Database pool connections: total open, idle, and requests waiting for one.",
    labelNames: ["state"],
    registers,
    collect() {
      this.reset();
      for (const read of pools) {
        const s = read();
        if (!s) continue;
        this.inc({ state: "total" }, s.total);
        this.inc({ state: "idle" }, s.idle);
        this.inc({ state: "waiting" }, s.waiting);
      }
    },
  });

  return {
    registry,
    rpc(procedure, protocol, code, seconds) {
      const labels = { procedure, protocol, code };
      rpcTotal.inc(labels);
      rpcSeconds.observe(labels, seconds);
    },
    authentication: (kind, outcome) => auth.inc({ kind, outcome }),
    rateLimited: (procedure) => limited.inc({ procedure }),
    refreshReuseDetected: () => reuse.inc(),
    apiKeyCache: (result) => keyCache.inc({ result }),
    revocationBroadcastSent: () => sent.inc(),
    revocationReceived(lagSeconds) {
      received.inc();
      lag.observe(Math.max(0, lagSeconds));
    },
    dbQuery: (seconds) => dbSeconds.observe(seconds),
    watchPool: (read) => void pools.push(read),
  };
}

/** The protocol of a request, from its content type. */
export function protocolOf(contentType: string | null): RpcProtocol {
  if (contentType?.startsWith("application/grpc-web")) return "grpc_web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}
