/**
 * The structured logger: JSON lines by default, a compact text line per record when
 * LOGS_FORMAT_JSON=false. Secret-bearing keys are redacted wherever they appear in the
 * first three levels of a record.
 *
 * Cheap by design, because the observe interceptor writes a line per RPC: redaction is
 * a key lookup per field (pino's path-based redaction with wildcards cost ~35 µs a
 * line, a fifth of a bare RPC's throughput), and a busy server's lines are written
 * together (line-writer.ts: an idle server's line at once, a busy one's at most LINGER_MS
 * late, everything kept flushed at exit). Inside a traced span
 * (OTEL_TRACES_EXPORTER), every line carries its `trace_id` and `span_id`.
 */
import { trace } from "@opentelemetry/api";
import { pino, type DestinationStream, type Logger } from "pino";
import { createLineWriter, fdSink, type LineSink, type LineWriter } from "./line-writer.js";

export type { Logger };

/** Keys whose values are never written, at any of the first three nesting levels (compared case-insensitively). */
const SECRET_KEYS = new Set(
  [
    "authorization",
    "password",
    "current_password",
    "new_password",
    "token",
    "access_token",
    "refresh_token",
    "key_value",
    "keyValue",
    "apiKey",
    "secret",
    "client_secret",
    "code_verifier",
  ].map((k) => k.toLowerCase()),
);

const CENSOR = "[redacted]";
const REDACT_DEPTH = 3;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !(v instanceof Error);
}

/**
 * `value` with every secret-bearing key censored, copying only the objects that hold
 * one (a record without secrets is returned as is, at the cost of a lookup per key).
 */
export function redactSecrets<T>(value: T, depth = REDACT_DEPTH): T {
  if (depth === 0 || !isRecord(value)) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = redactSecrets(value[i] as unknown, depth - 1);
      if (v === value[i]) continue;
      out ??= [...value];
      out[i] = v;
    }
    return (out ?? value) as T;
  }
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    const v = value[k];
    const next = SECRET_KEYS.has(k.toLowerCase()) ? CENSOR : redactSecrets(v, depth - 1);
    if (next === v) continue;
    out ??= { ...value };
    out[k] = next;
  }
  return (out ?? value) as T;
}

function textStream(out: LineWriter): DestinationStream {
  return {
    write(line: string) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, msg, pid: _pid, hostname: _host, ...rest } = rec;
      const lvl = pino.levels.labels[Number(level)] ?? String(level);
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      out.write(`${new Date(Number(time)).toISOString()} ${lvl.toUpperCase().padEnd(5)} ${String(msg ?? "")}${fields ? ` ${fields}` : ""}\n`);
    },
    flush: (done?: () => void) => out.flush(done),
  } as DestinationStream;
}

export interface LoggerOptions {
  json: boolean;
  level: string;
  /** Where to write (synchronously: lines are batched by line-writer.ts, at most LINGER_MS late); stdout by default. Tests pass a collecting stream. */
  destination?: LineSink;
}

/** The record as written: secrets censored, and the active span's ids when there is one (tracing on). */
function formatRecord(obj: Record<string, unknown>): Record<string, unknown> {
  const record = redactSecrets(obj);
  const span = trace.getActiveSpan();
  if (!span) return record;
  const c = span.spanContext();
  return { ...record, trace_id: c.traceId, span_id: c.spanId };
}

/** The fields of the per-RPC line (server/observe.ts). */
export interface RpcLineFields {
  procedure: string;
  code: string;
  duration_ms: number;
  client_ip: string | undefined;
  /** Set when successful RPCs' lines are sampled (LOG_RPC_SAMPLE below 1): the share written. */
  sample_ratio?: number;
}

/** Writes the per-RPC line of loggers made by createLogger in JSON mode without going through pino (see rpcLogger). */
const rpcWriters = new WeakMap<Logger, (fields: RpcLineFields) => void>();

/** Info-level number, as pino writes it. */
const INFO = 30;

/**
 * The per-RPC line writer of `logger`: `logger.info(fields, "rpc")`, byte for byte as pino
 * would write it (key order, `trace_id`/`span_id` inside a span, no `client_ip` or
 * `sample_ratio` when unset), but built by one string concatenation: the line has fixed keys and no secret,
 * and pino's generic path (serializers, redaction, hooks) cost ~40 µs of server CPU a
 * request when every RPC logs (`npm run bench`, scenario 1s). Any other logger (text
 * format, a test's) gets `logger.info`.
 */
export function rpcLogger(logger: Logger): (fields: RpcLineFields) => void {
  return rpcWriters.get(logger) ?? ((fields) => logger.info(fields, "rpc"));
}

/** The JSON line pino writes for `logger.info(fields, "rpc")` with createLogger's options. */
function rpcLine(fields: RpcLineFields, timeMs: number): string {
  let line = `{"level":${INFO},"time":${timeMs},"service":"tessera","procedure":${JSON.stringify(fields.procedure)},"code":${JSON.stringify(fields.code)},"duration_ms":${JSON.stringify(fields.duration_ms)}`;
  if (fields.client_ip !== undefined) line += `,"client_ip":${JSON.stringify(fields.client_ip)}`;
  if (fields.sample_ratio !== undefined) line += `,"sample_ratio":${JSON.stringify(fields.sample_ratio)}`;
  const span = trace.getActiveSpan();
  if (span) {
    const c = span.spanContext();
    line += `,"trace_id":${JSON.stringify(c.traceId)},"span_id":${JSON.stringify(c.spanId)}`;
  }
  return `${line},"msg":"rpc"}\n`;
}

/** Creates the process logger. */
export function createLogger(opts: LoggerOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: "tessera" },
    formatters: { log: formatRecord },
  };
  // Written synchronously, a busy server's lines together, at most LINGER_MS late; nothing
  // lost at exit (line-writer.ts).
  const dest = createLineWriter(opts.destination ?? fdSink(1));
  if (!opts.json) return pino(base, textStream(dest));
  const logger = pino(base, dest);
  rpcWriters.set(logger, (fields) => {
    if (logger.isLevelEnabled("info")) dest.write(rpcLine(fields, Date.now()));
  });
  return logger;
}
