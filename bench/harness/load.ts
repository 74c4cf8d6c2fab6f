/**
 * The load runner: autocannon in this process (the servers run in others), recording
 * every response's latency itself, so runs in parallel or in passes can be merged into
 * one distribution.
 */
import autocannon from "autocannon";

/** One load run: where, how many connections, how long (or how many requests), what to send. */
export interface LoadSpec {
  url: string;
  /** Request path, e.g. /tessera.v1.AuthService/CheckToken. */
  path: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS: number;
  /** Offered load in requests per second over all connections (open loop); unset: as fast as answered. */
  rate?: number;
  /** Stop after exactly this many requests instead of after a duration. */
  amount?: number;
  /** Fixed headers (besides content-type). */
  headers?: Record<string, string>;
  /** Fixed JSON body (default `{}`). */
  body?: string;
  /** Per-request headers/body: called for every request (rotating keys, client IPs). */
  vary?: () => { headers?: Record<string, string>; body?: string };
}

/** What one load run measured. */
export interface LoadResult {
  /** Responses received (any status). */
  requests: number;
  /** Seconds the run lasted. */
  seconds: number;
  /** Responses with a status other than 200, plus socket errors and timeouts. */
  errors: number;
  /** Every response's latency in ms (float); empty when the load generator gives only percentiles. */
  latencies: number[];
  /** The run's own percentiles, ms, when it has no latencies (wrk). */
  percentiles?: { p50: number; p99: number };
}

/** Runs autocannon in this process (the servers run in others) and records every latency. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  let bad = 0;
  const baseHeaders = { "content-type": "application/json", ...(spec.headers ?? {}) };
  const body = spec.body ?? "{}";
  const vary = spec.vary;
  const opts: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    timeout: 10,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.durationS }),
    ...(spec.rate !== undefined ? { overallRate: spec.rate } : {}),
    requests: [
      {
        method: "POST",
        path: spec.path,
        headers: baseHeaders,
        body,
        ...(vary
          ? {
              setupRequest: (req: autocannon.Request) => {
                const v = vary();
                return { ...req, headers: { ...baseHeaders, ...(v.headers ?? {}) }, body: v.body ?? body };
              },
            }
          : {}),
      },
    ],
  };
  const started = performance.now();
  let lastResponse = started;
  let instance: autocannon.Instance | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      lastResponse = performance.now();
      latencies.push(responseTime);
      if (statusCode !== 200) bad++;
    });
  });
  void instance;
  // autocannon notices the end of a run on a 1 s tick: time the run up to its last response,
  // or a 1,000-request run would always last at least 1 s.
  const seconds = (lastResponse - started) / 1000;
  return { requests: latencies.length, seconds, errors: bad + result.errors + result.timeouts, latencies };
}
