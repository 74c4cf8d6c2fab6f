/**
 * The server side of the local admin socket (see protocol.ts): served by `tessera
 * serve` while it holds an embedded data directory. One request line per connection,
 * at most MAX_REQUEST_BYTES, answered or dropped within REQUEST_TIMEOUT_MS; a few
 * connections at a time.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Logger } from "../../lib/logger.js";
import { adminSocketAddress, isAdminOp, MAX_REQUEST_BYTES, type AdminOp, type AdminResponse } from "./protocol.js";

/** How long a connection may take to send its request. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Connections served at once; more are refused by the kernel backlog or closed. */
const MAX_CONNECTIONS = 8;

/** A listening admin socket. */
export interface AdminSocket {
  /** Where it listens. */
  readonly address: string;
  close(): Promise<void>;
}

/** Options of startAdminSocket. */
export interface AdminSocketOptions {
  /** The embedded data directory this process holds locked. */
  dataDir: string;
  logger: Logger;
  /** Runs one operation; its result goes back as JSON. */
  handle(op: AdminOp): Promise<unknown>;
}

function removeStaleSocket(address: string): void {
  try {
    // This process holds the directory's lock: a socket file here is a leftover of a killed server.
    if (lstatSync(address).isSocket()) unlinkSync(address);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

function serve(sock: net.Socket, opts: AdminSocketOptions): void {
  let buf = "";
  let answered = false;
  const reply = (r: AdminResponse) => {
    if (answered) return;
    answered = true;
    sock.end(`${JSON.stringify(r)}\n`);
  };
  sock.setEncoding("utf8");
  sock.setTimeout(REQUEST_TIMEOUT_MS, () => sock.destroy());
  sock.on("error", () => sock.destroy());
  sock.on("data", (chunk: string) => {
    if (answered) return;
    buf += chunk;
    const nl = buf.indexOf("\n");
    if (nl < 0) {
      if (Buffer.byteLength(buf) > MAX_REQUEST_BYTES) reply({ ok: false, error: "request too large" });
      return;
    }
    sock.setTimeout(0);
    let op: unknown;
    try {
      op = (JSON.parse(buf.slice(0, nl)) as { op?: unknown }).op;
    } catch {
      reply({ ok: false, error: "request is not JSON" });
      return;
    }
    if (!isAdminOp(op)) {
      reply({ ok: false, error: "unknown operation" });
      return;
    }
    opts.handle(op).then(
      (result) => {
        opts.logger.info({ op }, "admin socket: operation done");
        reply({ ok: true, pid: process.pid, result });
      },
      (e: Error) => {
        opts.logger.error({ op, err: { message: e.message } }, "admin socket: operation failed");
        reply({ ok: false, error: e.message });
      },
    );
  });
}

/**
 * Listens on `dataDir`'s admin socket (mode 0600). Resolves with undefined, after a
 * logged warning, when it cannot (no usable path, or the listen failed): commands
 * beside the server then refuse instead of going through it.
 */
export async function startAdminSocket(opts: AdminSocketOptions): Promise<AdminSocket | undefined> {
  const address = adminSocketAddress(opts.dataDir);
  const warn = (why: string) =>
    opts.logger.warn({ data_dir: opts.dataDir }, `no admin socket (${why}): \`tessera keys\` and \`tessera migrate status\` refuse while this server runs`);
  if (!address) {
    warn(process.platform === "win32" ? "not supported on Windows" : "the data directory's path is too long for a socket");
    return undefined;
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    serve(sock, opts);
  });
  server.maxConnections = MAX_CONNECTIONS;
  try {
    removeStaleSocket(address);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The socket file is created owner-only from the start; chmod again in case the umask was ignored.
      const umask = process.umask(0o177);
      try {
        server.listen({ path: address, readableAll: false, writableAll: false }, () => resolve());
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(address, 0o600);
  } catch (e) {
    server.close();
    warn((e as Error).message);
    return undefined;
  }
  return {
    address,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
