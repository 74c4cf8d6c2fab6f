/**
 * The structured logger: JSON lines by default, a compact text line per record when
 * LOGS_FORMAT_JSON=false. Secret-bearing keys are redacted wherever they appear.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Keys whose values are never written, at any of the first nesting levels. */
const SECRET_KEYS = [
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
];

const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

function textStream(out: NodeJS.WritableStream) {
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
  };
}

export interface LoggerOptions {
  json: boolean;
  level: string;
  /** Where to write; stdout by default. Tests pass a collecting stream. */
  destination?: NodeJS.WritableStream;
}

/** Creates the process logger. */
export function createLogger(opts: LoggerOptions): Logger {
  const dest = opts.destination ?? process.stdout;
  const base = {
    level: opts.level,
    base: { service: "tessera" },
    redact: { paths: redactPaths, censor: "[redacted]" },
  };
  return opts.json ? pino(base, dest) : pino(base, textStream(dest));
}
