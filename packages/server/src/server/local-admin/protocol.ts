/**
 * The local admin socket: while `tessera serve` holds an embedded (PGlite) data
 * directory, no other process may open it, so the few commands that must work beside a
 * running server (`keys list`, `keys rotate`, `migrate status`) ask that server over a
 * Unix socket inside the data directory (mode 0600: only its user can connect). The
 * protocol is one JSON line each way per connection:
 * `{"op":"keys.rotate"}` → `{"ok":true,"pid":123,"result":{...}}` or `{"ok":false,"error":"..."}`.
 */
import path from "node:path";

/** The socket's file name inside the data directory. */
export const ADMIN_SOCKET_NAME = "tessera-admin.sock";
/** Largest request line the server reads (bytes). */
export const MAX_REQUEST_BYTES = 4096;

/** The operations the admin socket serves. */
const ADMIN_OPS = ["keys.list", "keys.rotate", "migrate.status"] as const;
/** One admin operation. */
export type AdminOp = (typeof ADMIN_OPS)[number];

/** A signing key as listed (never its private part). */
interface KeyInfo {
  id: string;
  alg: string;
  createdAt: string;
  retiredAt: string | null;
  publishUntil: string | null;
}

/** The result of each operation (JSON: dates as ISO 8601 strings). */
export interface AdminResults {
  "keys.list": { keys: KeyInfo[] };
  /** `signsNow`: set by a running server, true when it signs tokens (AUTH_MODE admin or full) and already uses the new key. */
  "keys.rotate": { kid: string; retired: string[]; publishUntil: string; signsNow?: boolean };
  "migrate.status": { migrations: { name: string; executedAt: string | null }[] };
}

/** A response line. */
export type AdminResponse = { ok: true; pid: number; result: unknown } | { ok: false; error: string };

/** Whether `x` names an admin operation. */
export function isAdminOp(x: unknown): x is AdminOp {
  return typeof x === "string" && (ADMIN_OPS as readonly string[]).includes(x);
}

/**
 * The address to listen on or connect to for `dataDir`'s socket: its absolute path, or
 * its path relative to the working directory when only that fits the OS's limit on
 * socket paths; undefined when neither fits, or on Windows (no Unix sockets in a directory).
 */
export function adminSocketAddress(dataDir: string): string | undefined {
  if (process.platform === "win32") return undefined;
  const max = process.platform === "linux" ? 107 : 103;
  const abs = path.join(path.resolve(dataDir), ADMIN_SOCKET_NAME);
  if (Buffer.byteLength(abs) <= max) return abs;
  const rel = `./${path.relative(process.cwd(), abs)}`;
  return Buffer.byteLength(rel) <= max ? rel : undefined;
}
