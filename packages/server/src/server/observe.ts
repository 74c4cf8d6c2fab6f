/**
 * The outermost interceptor: one log line per RPC (procedure, code, duration, client
 * IP; only a LOG_RPC_SAMPLE share of the successful ones when set) and the last line of
 * defence for errors. Anything that is not a ConnectError
 * is logged with its stack here and reaches the client as a bare `internal error`
 * (or `Unavailable` when the database cannot be reached); no details leak.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { rpcLogger, type Logger, type RpcLineFields } from "../lib/logger.js";
import { requestInfoKey } from "../lib/request-info.js";
import { protocolOf, type Metrics } from "../metrics/metrics.js";
import { inRpcSpan, SpanStatusCode } from "../tracing/spans.js";
import { isUnavailableError } from "../store/db.js";

/** Maps an unknown thrown value to the ConnectError a client may see. */
function toClientError(e: unknown, logger: Logger, procedure: string): ConnectError {
  if (e instanceof ConnectError) return e;
  if (isUnavailableError(e)) {
    logger.warn({ procedure, err: { message: (e as Error).message } }, "database unavailable");
    return new ConnectError("service temporarily unavailable", Code.Unavailable);
  }
  logger.error({ procedure, err: e }, "unhandled error");
  return new ConnectError("internal error", Code.Internal);
}

/**
 * Builds the logging and error-mapping interceptor. No unary RPC runs longer than
 * `deadlineMs`: past it the client gets DeadlineExceeded (the server-side request deadline).
 */
export function createObserveInterceptor(logger: Logger, deadlineMs: number, metrics: Metrics, rpcSample = 1): Interceptor {
  // A busy server's lines are written together, at most LINGER_MS late (lib/line-writer.ts).
  // A quiet one (this RPC alone in flight, the previous RPC line QUIET_GAP_MS or more ago)
  // brings its line out before the response, as a synchronous logger would: a terminal or
  // a script sharing the server's stdout sees it before the client's output, never glued
  // to the end of it. Under load each request often finishes alone in its turn, so being
  // alone in flight is not enough: the gap is what tells a busy server from a quiet one.
  const writeRpcLine = rpcLogger(logger);
  // One sampler per procedure (a bounded set: only routed procedures reach interceptors),
  // so a client alternating two procedures does not get all of one logged and none of the other.
  const samplers = new Map<string, () => boolean>();
  const sampleOk =
    rpcSample >= 1
      ? () => true
      : (procedure: string) => {
          let next = samplers.get(procedure);
          if (!next) {
            next = okSampler(rpcSample);
            samplers.set(procedure, next);
          }
          return next();
        };
  const sampleRatio = rpcSample < 1 ? rpcSample : undefined;
  let inFlight = 0;
  let lastLineAt = Number.NEGATIVE_INFINITY;
  const logRpc = (fields: RpcLineFields) => {
    writeRpcLine(fields);
    const now = performance.now();
    if (inFlight === 1 && now - lastLineAt >= QUIET_GAP_MS) logger.flush();
    lastLineAt = now;
  };
  return (next) => async (req) => {
    const start = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const protocol = protocolOf(req.header.get("content-type"));
    const info = req.contextValues.get(requestInfoKey);
    const attributes = { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name, "tessera.protocol": protocol };
    return inRpcSpan(procedure, req.header, attributes, async (span) => {
      let timer: NodeJS.Timeout | undefined;
      inFlight++;
      try {
        const res = req.stream
          ? await next(req)
          : await Promise.race([
              next(req),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new ConnectError("request deadline exceeded", Code.DeadlineExceeded)), deadlineMs);
              }),
            ]);
        const ms = performance.now() - start;
        metrics.rpc(procedure, protocol, "ok", ms / 1000);
        span?.setAttribute("rpc.connect_rpc.status", "ok");
        if (sampleOk(procedure)) logRpc({ procedure, code: "ok", duration_ms: round(ms), client_ip: info.clientIp, sample_ratio: sampleRatio });
        return res;
      } catch (e) {
        const ce = toClientError(e, logger, procedure);
        const ms = performance.now() - start;
        const code = codeName(ce.code);
        metrics.rpc(procedure, protocol, code, ms / 1000);
        span?.setAttribute("rpc.connect_rpc.status", code);
        span?.setAttribute("rpc.connect_rpc.error_code", code);
        if (SERVER_FAULTS.has(ce.code)) span?.setStatus({ code: SpanStatusCode.ERROR, message: code });
        logRpc({ procedure, code, duration_ms: round(ms), client_ip: info.clientIp });
        throw ce;
      } finally {
        clearTimeout(timer);
        inFlight--;
      }
    });
  };
}

/**
 * Whether the next successful RPC's line is written: `ratio` of them, evenly spread (a
 * running sum in millionths, no randomness and no drift: 0.25 writes every fourth line,
 * 0.3 three in ten), the first one written; 0: none. The observe interceptor keeps one
 * per procedure.
 */
export function okSampler(ratio: number): () => boolean {
  if (ratio >= 1) return () => true;
  if (ratio <= 0) return () => false;
  const step = Math.max(1, Math.round(ratio * SAMPLE_UNIT));
  let credit = SAMPLE_UNIT - step;
  return () => {
    credit += step;
    if (credit < SAMPLE_UNIT) return false;
    credit -= SAMPLE_UNIT;
    return true;
  };
}

/** okSampler's resolution: ratios are counted in millionths. */
const SAMPLE_UNIT = 1_000_000;

/** Gap between RPC lines (ms) from which a server counts as quiet: under ~500 RPCs a second. */
const QUIET_GAP_MS = 2;

/** Codes that are the server's fault (a span in error), as opposed to the caller's. */
const SERVER_FAULTS = new Set([Code.Internal, Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.DataLoss]);

function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
