/**
 * The client side of the local admin socket (see protocol.ts), used by the CLI when a
 * running server holds the embedded data directory.
 */
import net from "node:net";
import { adminSocketAddress, type AdminOp, type AdminResponse, type AdminResults } from "./protocol.js";

/** How long the CLI waits for the server's answer. */
const ANSWER_TIMEOUT_MS = 30_000;
/** Largest answer read (a key list or migration list is far smaller). */
const MAX_ANSWER_BYTES = 1 << 20;

/** The server's answer, or `unavailable` when no server listens on the data directory's socket. */
export type AdminCallResult<K extends AdminOp> = { kind: "done"; pid: number; result: AdminResults[K] } | { kind: "unavailable" };

/** Sends one operation to the server holding `dataDir`; throws with the server's error message when it fails. */
export function callAdminSocket<K extends AdminOp>(dataDir: string, op: K): Promise<AdminCallResult<K>> {
  const address = adminSocketAddress(dataDir);
  if (!address) return Promise.resolve({ kind: "unavailable" });
  return new Promise((resolve, reject) => {
    let buf = "";
    let connected = false;
    const sock = net.connect({ path: address });
    sock.setEncoding("utf8");
    sock.setTimeout(ANSWER_TIMEOUT_MS, () => sock.destroy(new Error(`the server did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`)));
    sock.on("connect", () => {
      connected = true;
      sock.write(`${JSON.stringify({ op })}\n`);
    });
    sock.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_ANSWER_BYTES) sock.destroy(new Error("the server's answer is too large"));
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      // No socket file, or a leftover no one listens on: no server takes commands here.
      if (!connected && (e.code === "ENOENT" || e.code === "ECONNREFUSED")) resolve({ kind: "unavailable" });
      else reject(e);
    });
    sock.on("end", () => {
      let r: AdminResponse;
      try {
        r = JSON.parse(buf.trim()) as AdminResponse;
      } catch {
        reject(new Error("the server's admin socket gave an unreadable answer"));
        return;
      }
      if (r.ok) resolve({ kind: "done", pid: r.pid, result: r.result as AdminResults[K] });
      else reject(new Error(`the server refused: ${r.error}`));
    });
  });
}
