/**
 * The h2c half of the one port, with the limits HTTP/1.1 gets from Node's own server:
 * a bounded number of concurrent streams per connection, a time limit on receiving
 * each request, and idle connections closed.
 */
import http2 from "node:http2";
import type net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";

/** Concurrent streams per connection: advertised in SETTINGS; nghttp2 refuses more with RST_STREAM REFUSED_STREAM. */
const H2_MAX_CONCURRENT_STREAMS = 100;

/** The h2c server, its live sessions, and how a sniffed socket is handed to it. */
export interface H2Server {
  server: http2.Http2Server;
  sessions: Set<http2.ServerHttp2Session>;
  /**
   * Starts an HTTP/2 session on a socket whose unread bytes begin with the preface.
   * `onFirstStream` runs when the first request's headers have arrived.
   */
  accept(sock: net.Socket, onFirstStream: () => void): http2.ServerHttp2Session | undefined;
}

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/** After the request limit, how long the handler has to finish its error answer before the stream is reset. */
const ANSWER_GRACE_MS = 1000;

/**
 * Gives a stream `ms` to deliver its whole request (headers and body, up to the client's
 * END_STREAM), whatever it trickles meanwhile. Only the request half is timed: once the
 * request has ended, a response may stream for as long as the handler's own deadline
 * allows (a server-streaming RPC such as a future `WatchRevocations` is not cut by this).
 * Over the limit the handler's body read fails with DeadlineExceeded, so Connect answers in
 * the request's own protocol (Connect 504 JSON, gRPC `grpc-status: 4`); a moment later the
 * stream is reset (NO_ERROR once the answer is complete, RFC 9113 §8.1) so the client
 * stops sending. A handler that does not read bodies gets a plain 408 then.
 */
function limitRequestTime(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, ms: number): void {
  const stream = req.stream;
  const timer = setTimeout(() => {
    if (stream.destroyed || stream.closed || stream.state.remoteClose) return;
    const grace = setTimeout(() => {
      if (stream.destroyed || stream.closed) return;
      if (!stream.headersSent) {
        stream.respond({ ":status": 408, "content-type": "application/json" });
        stream.end(JSON.stringify({ code: "deadline_exceeded", message: tooSlow(ms) }), () => reset(stream, http2.constants.NGHTTP2_NO_ERROR));
      } else {
        reset(stream, stream.state.localClose ? http2.constants.NGHTTP2_NO_ERROR : http2.constants.NGHTTP2_CANCEL);
      }
    }, ANSWER_GRACE_MS);
    grace.unref();
    stream.once("close", () => clearTimeout(grace));
    if (!res.writableEnded) req.destroy(new ConnectError(tooSlow(ms), Code.DeadlineExceeded));
  }, ms);
  timer.unref();
  stream.once("close", () => clearTimeout(timer));
}

function reset(stream: http2.ServerHttp2Stream, code: number): void {
  if (stream.destroyed || stream.closed) return;
  stream.close(code);
  // Nobody reads the rest of the request: without this the stream would wait for its
  // readable side to be consumed and never emit 'close'.
  setImmediate(() => stream.destroy());
}

function tooSlow(ms: number): string {
  return `request not received within ${ms / 1000} s`;
}

/** Builds the h2c server. `idleMs`: a connection without an open stream for this long is closed (GOAWAY). */
export function createH2Server(limits: { requestTimeoutMs: number; idleMs: number }, onRequest: Handler): H2Server {
  const server = http2.createServer(
    {
      maxSessionMemory: 10,
      maxHeaderListPairs: 256,
      maxHeaderSize: 16 * 1024,
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS },
    } as http2.ServerOptions,
    (req, res) => {
      limitRequestTime(req, res, limits.requestTimeoutMs);
      onRequest(req, res);
    },
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  let firstStreamHook: (() => void) | undefined;
  let created: http2.ServerHttp2Session | undefined;

  server.on("session", (session) => {
    created = session;
    sessions.add(session);
    let onFirstStream = firstStreamHook;
    // Not a socket idle timeout: a quiet response stream (a watch) keeps its connection.
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      idle = setTimeout(() => session.close(), limits.idleMs);
      idle.unref();
    };
    session.on("stream", (stream) => {
      onFirstStream?.();
      onFirstStream = undefined;
      open++;
      clearTimeout(idle);
      stream.once("close", () => {
        if (--open === 0 && !session.closed && !session.destroyed) armIdle();
      });
    });
    session.once("close", () => {
      clearTimeout(idle);
      sessions.delete(session);
    });
  });

  return {
    server,
    sessions,
    accept(sock, onFirstStream) {
      firstStreamHook = onFirstStream;
      created = undefined;
      try {
        // No resume(): the session reads the socket itself. 'session' is emitted synchronously.
        server.emit("connection", sock);
        return created;
      } finally {
        firstStreamHook = undefined;
      }
    },
  };
}
