/**
 * The outermost interceptor: one log line per RPC (procedure, code, duration, client
 * IP) and the last line of defence for errors. Anything that is not a ConnectError
 * is logged with its stack here and reaches the client as a bare `internal error`
 * (or `Unavailable` when the database cannot be reached); no details leak.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../lib/logger.js";
import { requestInfoKey } from "../lib/request-info.js";
import { protocolOf, type Metrics } from "../metrics/metrics.js";
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
export function createObserveInterceptor(logger: Logger, deadlineMs: number, metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const start = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const info = req.contextValues.get(requestInfoKey);
    let timer: NodeJS.Timeout | undefined;
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
      metrics.rpc(procedure, protocolOf(req.header.get("content-type")), "ok", ms / 1000);
      logger.info({ procedure, code: "ok", duration_ms: round(ms), client_ip: info.clientIp }, "rpc");
      return res;
    } catch (e) {
      const ce = toClientError(e, logger, procedure);
      const ms = performance.now() - start;
      const code = codeName(ce.code);
      metrics.rpc(procedure, protocolOf(req.header.get("content-type")), code, ms / 1000);
      logger.info({ procedure, code, duration_ms: round(ms), client_ip: info.clientIp }, "rpc");
      throw ce;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A code's name as logs and metrics show it: `not_found`, `permission_denied`, ... */
function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
