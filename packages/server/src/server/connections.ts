/**
 * Connection caps of the one port: at most `maxConnections` open connections, and at
 * most `maxPerClient` from one client address (an IPv6 client counts by its /64, which
 * one host usually owns whole). A connection over a cap is answered in its own protocol
 * (HTTP/1.1 429 or 503; HTTP/2 GOAWAY) and closed; the refusals themselves are bounded.
 */
import { isIPv6 } from "node:net";
import type net from "node:net";
import type { Logger } from "../lib/logger.js";

/** The key a connection is counted under: an IPv4 address, or the /64 of an IPv6 one. */
export function connectionKey(remoteAddress: string | undefined): string {
  let a = (remoteAddress ?? "").toLowerCase();
  if (a.startsWith("::ffff:") && a.includes(".")) a = a.slice(7);
  if (!isIPv6(a)) return a;
  const [head = "", tail] = a.split("::");
  const groups = head === "" ? [] : head.split(":");
  if (tail !== undefined) {
    const rest = tail === "" ? [] : tail.split(":");
    groups.push(...Array<string>(8 - groups.length - rest.length).fill("0"), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Why a connection was refused. */
type RefusalReason = "client" | "server";

/** Counts open connections and refuses the ones over a cap. */
export interface ConnectionLimiter {
  /** Counts `sock` in (until it closes) and returns true, or answers it with a refusal and returns false. */
  admit(sock: net.Socket): boolean;
  /** Open connections now (admitted, not yet closed). */
  open(): number;
}

/** At most this many refused connections are being answered at once; beyond, they are just closed. */
const MAX_REFUSING = 64;
/** A refused connection has this long to send its first bytes (to pick the refusal's protocol) and read the answer. */
const REFUSAL_GRACE_MS = 1000;

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

function h2Frame(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  return Buffer.concat([header, payload]);
}

/** An HTTP/2 server preface (empty SETTINGS) and a GOAWAY that processed no stream, so clients may retry. */
function h2Refusal(errorCode: number, message: string): Buffer {
  const goaway = Buffer.alloc(8);
  goaway.writeUInt32BE(0, 0);
  goaway.writeUInt32BE(errorCode, 4);
  return Buffer.concat([h2Frame(0x4, Buffer.alloc(0)), h2Frame(0x7, Buffer.concat([goaway, Buffer.from(message)]))]);
}

function h1Refusal(status: number, reason: string, code: string, message: string): Buffer {
  const body = JSON.stringify({ code, message });
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
  );
}

const REFUSALS: Record<RefusalReason, { h1: Buffer; h2: Buffer }> = {
  // The client holds too many: its own doing, like a rate limit.
  client: {
    h1: h1Refusal(429, "Too Many Requests", "resource_exhausted", "too many connections from this address: reuse connections or close some"),
    h2: h2Refusal(0xb /* ENHANCE_YOUR_CALM */, "too many connections from this address"),
  },
  // The server is full: nobody's fault, retry (elsewhere).
  server: {
    h1: h1Refusal(503, "Service Unavailable", "unavailable", "the server is at its connection limit: retry later"),
    h2: h2Refusal(0x7 /* REFUSED_STREAM */, "the server is at its connection limit"),
  },
};

/** Builds the limiter. `maxPerClient` 0 means no per-address cap. */
export function createConnectionLimiter(opts: { maxConnections: number; maxPerClient: number; logger: Logger }): ConnectionLimiter {
  const perClient = new Map<string, number>();
  let open = 0;
  let refusing = 0;
  // Refusals are logged at most every 10 s, with counts, so a flood cannot flood the log.
  const refused: Record<RefusalReason, number> = { client: 0, server: 0 };
  let lastLog = 0;

  function note(reason: RefusalReason, key: string): void {
    refused[reason]++;
    const now = Date.now();
    if (now - lastLog < 10_000) return;
    lastLog = now;
    opts.logger.warn(
      {
        refused_per_address: refused.client,
        refused_server_full: refused.server,
        open,
        last_address: key,
        max_connections: opts.maxConnections,
        max_connections_per_ip: opts.maxPerClient,
      },
      "refusing connections over the connection limits",
    );
    refused.client = refused.server = 0;
  }

  function refuse(sock: net.Socket, reason: RefusalReason): void {
    if (refusing >= MAX_REFUSING) {
      sock.destroy();
      return;
    }
    refusing++;
    const timer = setTimeout(() => sock.destroy(), REFUSAL_GRACE_MS);
    sock.once("close", () => {
      refusing--;
      clearTimeout(timer);
    });
    sock.on("error", () => sock.destroy());
    sock.once("data", (first: Buffer) => {
      const n = Math.min(first.length, H2_PREFACE.length);
      const h2 = first.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      sock.end(h2 ? REFUSALS[reason].h2 : REFUSALS[reason].h1);
      // Keep reading (and dropping) what the client still sends: closing with unread
      // bytes would reset the connection and could discard the answer before it is read.
      sock.on("data", () => {});
    });
  }

  return {
    admit(sock) {
      const key = connectionKey(sock.remoteAddress);
      const mine = perClient.get(key) ?? 0;
      const reason: RefusalReason | undefined =
        open >= opts.maxConnections ? "server" : opts.maxPerClient > 0 && mine >= opts.maxPerClient ? "client" : undefined;
      if (reason) {
        note(reason, key);
        refuse(sock, reason);
        return false;
      }
      open++;
      perClient.set(key, mine + 1);
      sock.once("close", () => {
        open--;
        const left = (perClient.get(key) ?? 1) - 1;
        if (left > 0) perClient.set(key, left);
        else perClient.delete(key);
      });
      return true;
    },
    open: () => open,
  };
}
