/**
 * The one port. A plain TCP server sniffs the first bytes of every connection: the
 * HTTP/2 connection preface goes to an h2c server (gRPC, and Connect over HTTP/2),
 * anything else to an HTTP/1.1 server (Connect JSON/binary, gRPC-web, health, JWKS,
 * static files). Both share one request handler.
 */
import { setMaxListeners } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";
import { readRequestInfo, requestInfoKey } from "./request-info.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A plain HTTP handler for a path outside the RPC routes; returns false to pass. */
export type HttpHandler = (req: NodeRequest, res: NodeResponse) => boolean | Promise<boolean>;

export interface ServerDeps {
  config: Pick<Config, "readMaxBytes" | "maxTimeoutMs" | "trustProxyHops" | "shutdownTimeoutMs">;
  logger: Logger;
  routes: (router: ConnectRouter) => void;
  /** Interceptors, outermost first. */
  interceptors: Interceptor[];
  /** Handlers tried in order before the RPC routes (health, JWKS, CORS, console...). */
  httpHandlers: HttpHandler[];
}

/** A running Tessera server. */
export interface TesseraServer {
  /** Starts listening; resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** The bound address, once listening. */
  address(): net.AddressInfo;
  /**
   * Graceful stop: refuse new connections and requests, let in-flight requests
   * finish within `timeoutMs`, then close every socket.
   */
  close(timeoutMs?: number): Promise<void>;
  /** Number of requests being served now. */
  inFlight(): number;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Writes a JSON response. */
export function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** Builds the server; nothing listens until `listen`. */
export function createServer(deps: ServerDeps): TesseraServer {
  const { config, logger } = deps;
  const shutdown = new AbortController();
  // Every in-flight RPC listens on the shutdown signal until it ends; without this, more
  // than 10 at once print "MaxListenersExceededWarning: Possible EventTarget memory leak".
  setMaxListeners(0, shutdown.signal);
  let draining = false;
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];

  const rpc = connectNodeAdapter({
    routes: deps.routes,
    interceptors: deps.interceptors,
    readMaxBytes: config.readMaxBytes,
    maxTimeoutMs: config.maxTimeoutMs,
    shutdownSignal: shutdown.signal,
    contextValues: (req) => {
      const values = createContextValues();
      values.set(requestInfoKey, readRequestInfo(req, config.trustProxyHops));
      return values;
    },
    fallback: (_req, res) => sendJson(res as NodeResponse, 404, { code: "not_found", message: "no such route" }),
  });

  async function handle(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (draining) {
      res.setHeader("connection", "close");
      sendJson(res, 503, { code: "unavailable", message: "server is shutting down" });
      return;
    }
    inFlight++;
    res.on("close", () => {
      inFlight--;
      if (inFlight === 0) idleWaiters.splice(0).forEach((w) => w());
    });
    try {
      for (const h of deps.httpHandlers) {
        if (await h(req, res)) return;
      }
      await rpc(req, res);
    } catch (e) {
      logger.error({ err: e, path: req.url }, "request failed outside an RPC");
      if (!res.headersSent) sendJson(res, 500, { code: "internal", message: "internal error" });
      else res.end();
    }
  }
  const onRequest = (req: NodeRequest, res: NodeResponse) => void handle(req, res);

  const h1 = http.createServer(
    {
      // Slow clients cannot hold sockets forever.
      headersTimeout: 10_000,
      requestTimeout: 60_000,
      // How often those two are checked (Node's default is 30 s, which would let a
      // slow client hold a socket for 40 s instead of 10).
      connectionsCheckingInterval: 1_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
    },
    onRequest,
  );
  const h2 = http2.createServer({ maxSessionMemory: 10, maxHeaderListPairs: 256, maxHeaderSize: 16 * 1024 } as http2.ServerOptions, onRequest);
  h2.setTimeout(60_000);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const sockets = new Set<net.Socket>();

  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    // Drop connections that never send a byte.
    sock.setTimeout(10_000, () => sock.destroy());
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, H2_PREFACE.length);
      const matches = buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (matches && buf.length < H2_PREFACE.length) return; // undecided: wait for more
      sock.removeListener("data", onData);
      sock.pause();
      sock.setTimeout(0);
      sock.unshift(buf);
      if (matches) {
        h2.emit("connection", sock); // no resume(): the h2 session reads the socket itself
      } else {
        h1.emit("connection", sock);
        sock.resume();
      }
    };
    sock.on("data", onData);
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          // The HTTP/1 server never listens itself; without 'listening' its timeout checks never run.
          h1.emit("listening");
          resolve((tcp.address() as net.AddressInfo).port);
        });
      });
    },
    address: () => tcp.address() as net.AddressInfo,
    inFlight: () => inFlight,
    async close(timeoutMs = config.shutdownTimeoutMs) {
      draining = true;
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      h1.closeIdleConnections();
      for (const s of sessions) s.close();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((r) => idleWaiters.push(r)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      }
      shutdown.abort();
      for (const s of sessions) s.destroy();
      h1.closeAllConnections();
      for (const sock of sockets) sock.destroy();
      h2.close();
      h1.close();
      await closed;
    },
  };
}
