/**
 * The one port. A plain TCP server sniffs the first bytes of every connection: the
 * HTTP/2 connection preface goes to an h2c server (gRPC, and Connect over HTTP/2),
 * anything else to an HTTP/1.1 server (Connect JSON/binary, gRPC-web, health, JWKS,
 * static files). Both share one request handler.
 *
 * Both protocols get the same limits: connections over MAX_CONNECTIONS (or over
 * MAX_CONNECTIONS_PER_IP from one address) are refused in their own protocol; a new
 * connection must complete its first request's headers within HEADERS_TIMEOUT_MS of
 * accept, whatever it trickles; every request must have arrived whole within
 * REQUEST_TIMEOUT_MS (responses are not timed by it); h2c allows 100 concurrent streams.
 */
import { setMaxListeners } from "node:events";
import http from "node:http";
import type http2 from "node:http2";
import net from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "../config/config.js";
import { sendJson, type HttpHandler, type NodeRequest, type NodeResponse } from "../lib/http.js";
import type { Logger } from "../lib/logger.js";
import { readRequestInfo, requestInfoKey } from "../lib/request-info.js";
import { createConnectionLimiter } from "./connections.js";
import { createH2Server } from "./h2.js";
import { clientCertificateOf, createTlsTerminator } from "./tls.js";

export interface ServerDeps {
  config: Pick<
    Config,
    | "readMaxBytes"
    | "maxTimeoutMs"
    | "trustProxyHops"
    | "shutdownTimeoutMs"
    | "headersTimeoutMs"
    | "requestTimeoutMs"
    | "maxConnections"
    | "maxConnectionsPerIp"
    | "tls"
  >;
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
  /** Number of open client connections counted against MAX_CONNECTIONS (refused ones are not). */
  openConnections(): number;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const REQUEST_TIMEOUT_408 = Buffer.from("HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");

/** Builds the server; nothing listens until `listen`. */
export function createServer(deps: ServerDeps): TesseraServer {
  const { config, logger } = deps;
  const shutdown = new AbortController();
  // Every in-flight RPC listens on the shutdown signal until it ends; without this, more
  // than 10 at once print "MaxListenersExceededWarning: Possible EventTarget memory leak".
  setMaxListeners(0, shutdown.signal);
  const tls = config.tls && createTlsTerminator(config.tls, logger, config.headersTimeoutMs);
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
      const info = readRequestInfo(req, config.trustProxyHops);
      if (tls) {
        // HTTP/2 requests see their connection through the session (req.socket is a proxy).
        const clientCert = clientCertificateOf("stream" in req ? req.stream.session?.socket : req.socket);
        if (clientCert) info.clientCert = clientCert;
      }
      values.set(requestInfoKey, info);
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
      if (inFlight === 0) for (const w of idleWaiters.splice(0)) w();
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
      // Slow clients cannot hold sockets forever: headers, then the whole request, in time.
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // How often those two are checked (Node's default is 30 s, which would let a
      // slow client hold a socket for 40 s instead of 10).
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(config.headersTimeoutMs / 4))),
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
    },
    onRequest,
  );
  const h2 = createH2Server({ requestTimeoutMs: config.requestTimeoutMs, idleMs: config.requestTimeoutMs }, onRequest);
  const sockets = new Set<net.Socket>();
  const limiter = createConnectionLimiter({ maxConnections: config.maxConnections, maxPerClient: config.maxConnectionsPerIp, logger });
  // The first request of an HTTP/1.1 connection clears that connection's accept deadline.
  const firstRequestHooks = new WeakMap<net.Socket, () => void>();
  h1.on("request", (req: http.IncomingMessage) => {
    const hook = firstRequestHooks.get(req.socket);
    firstRequestHooks.delete(req.socket);
    hook?.();
  });

  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    if (!limiter.admit(sock)) return;
    // One absolute deadline from accept to the first request's headers, whatever the
    // client trickles meanwhile (preface bytes, header lines, CONTINUATION frames).
    let phase: "sniffing" | "h1" | "h2" = "sniffing";
    let session: http2.ServerHttp2Session | undefined;
    const deadline = setTimeout(() => {
      if (phase === "h2" && session) {
        session.close(); // GOAWAY: no stream was started
      } else {
        if (phase === "h1" && sock.writable && sock.bytesWritten === 0) sock.write(REQUEST_TIMEOUT_408);
        sock.destroy();
      }
    }, config.headersTimeoutMs);
    deadline.unref();
    const firstRequest = () => clearTimeout(deadline);
    sock.once("close", firstRequest);
    if (tls) {
      // TLS: ALPN says which protocol follows the handshake (no ALPN: HTTP/1.1).
      tls.accept(sock, (secure) => {
        if (secure.alpnProtocol === "h2") {
          phase = "h2";
          session = h2.accept(secure, firstRequest);
        } else {
          phase = "h1";
          firstRequestHooks.set(secure, firstRequest);
          h1.emit("connection", secure);
        }
      });
      return;
    }
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const n = Math.min(buf.length, H2_PREFACE.length);
      const matches = buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (matches && buf.length < H2_PREFACE.length) return; // undecided: wait for more
      sock.removeListener("data", onData);
      sock.pause();
      sock.unshift(buf);
      if (matches) {
        phase = "h2";
        session = h2.accept(sock, firstRequest);
      } else {
        phase = "h1";
        firstRequestHooks.set(sock, firstRequest);
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
    openConnections: () => limiter.open(),
    async close(timeoutMs = config.shutdownTimeoutMs) {
      draining = true;
      tls?.close();
      const closed = new Promise<void>((r) => tcp.close(() => r()));
      h1.closeIdleConnections();
      for (const s of h2.sessions) s.close();
      if (inFlight > 0) {
        await Promise.race([new Promise<void>((r) => idleWaiters.push(r)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      }
      shutdown.abort();
      for (const s of h2.sessions) s.destroy();
      h1.closeAllConnections();
      for (const sock of sockets) sock.destroy();
      h2.server.close();
      h1.close();
      await closed;
    },
  };
}
