/**
 * Finding 6 of issue 13: HTTP/2 requests were bounded neither in time nor in count. h2c
 * advertised unlimited concurrent streams, a stream trickling one body byte every 20 s
 * stayed open indefinitely (HTTP/1.1 got 408 at 60 s), and the preface sniffer let a
 * socket trickle the preface for minutes. Now every protocol has the same limits: the
 * first request's headers within HEADERS_TIMEOUT_MS of accept, every whole request within
 * REQUEST_TIMEOUT_MS, at most 100 concurrent streams per h2c connection, and caps on open
 * connections overall and per client address, refused in the client's own protocol.
 * Timings are asserted only as "within the configured bound" (plus slack for a loaded
 * machine), never as exact durations.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { ConfigError, loadConfig } from "../../packages/server/src/config/config.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import { createServer, type TesseraServer } from "../../packages/server/src/server/server.js";
import { connectionKey } from "../../packages/server/src/server/connections.js";
import { FLAG, FRAME, H2_PREFACE, frame, headerBlock, rawH2, settingsOf } from "../helpers/h2-raw.js";
import type { TestServer } from "../helpers/server.js";

const HEADERS_MS = 1000;
const REQUEST_MS = 2000;
/** Room for timer checks and a loaded two-core machine on top of a configured bound. */
const SLACK_MS = 3000;

/** Resolves with `p`, or rejects if it takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 50 ms until it is true, for at most `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Exchange {
  headers: http2.IncomingHttpHeaders | undefined;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: string;
  rstCode: number | undefined;
}

/** Opens a stream, sends `first`, then one more byte every 300 ms until the server ends the stream. */
function trickleH2(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, first: Buffer): Promise<Exchange> {
  const req = session.request(headers);
  req.write(first);
  const iv = setInterval(() => {
    if (!req.destroyed && !req.writableEnded) req.write(" ");
  }, 300);
  const ex: Exchange = { headers: undefined, trailers: undefined, body: "", rstCode: undefined };
  req.on("response", (h) => (ex.headers = h));
  req.on("trailers", (t) => (ex.trailers = t));
  req.on("data", (d: Buffer) => (ex.body += d.toString()));
  req.on("error", () => {});
  return new Promise((resolve) =>
    req.on("close", () => {
      clearInterval(iv);
      ex.rstCode = req.rstCode;
      resolve(ex);
    }),
  );
}

/** A raw TCP connection that records what the server sends and when it closes. */
function rawSocket(port: number, localAddress?: string) {
  const sock = net.connect({ port, host: "127.0.0.1", localAddress });
  let data = "";
  sock.on("data", (d: Buffer) => (data += d.toString("latin1")));
  sock.on("error", () => {});
  const connected = new Promise<void>((r) => sock.once("connect", () => r()));
  const closed = new Promise<void>((r) => sock.once("close", () => r()));
  return { sock, connected, closed, data: () => data };
}

/** GET `path` over a fresh HTTP/1.1 connection (Connection: close); resolves with everything the server sent. */
async function h1Get(port: number, path: string, localAddress?: string): Promise<string> {
  const s = rawSocket(port, localAddress);
  await s.connected;
  s.sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await within(s.closed, 5000, `GET ${path}`);
  return s.data();
}

/** Opens an h2c session from `localAddress` and resolves with the GOAWAY it receives. */
function h2Goaway(port: number, localAddress: string): Promise<{ errorCode: number; message: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    createConnection: () => net.connect({ port, host: "127.0.0.1", localAddress }),
  });
  session.on("error", () => {});
  const req = session.request({ ":path": "/health" });
  req.on("error", () => {});
  return within(
    new Promise((resolve) =>
      session.once("goaway", (errorCode, _last, opaque) => {
        resolve({ errorCode, message: opaque?.toString() ?? "" });
        session.destroy();
      }),
    ),
    5000,
    "GOAWAY",
  );
}

/** Holds `n` connections from `localAddress` open (sending nothing) once the server has counted them. */
async function hold(server: TestServer, n: number, localAddress: string) {
  const before = server.app.server.openConnections();
  const socks = Array.from({ length: n }, () => rawSocket(server.port, localAddress));
  await Promise.all(socks.map((s) => s.connected));
  await until(() => server.app.server.openConnections() === before + n, 5000, "server counts the held connections");
  return socks;
}

// One database for the file; each describe starts (and closes) its own server on it.
const tessera = useTessera({ server: false });

describe("finding 6: request time limits", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await tessera.startServer({ env: { HEADERS_TIMEOUT_MS: String(HEADERS_MS), REQUEST_TIMEOUT_MS: String(REQUEST_MS) } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finding 6: an h2c stream that trickles its body gets DeadlineExceeded within REQUEST_TIMEOUT_MS, over Connect and gRPC", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    try {
      const [connect, grpc] = await within(
        Promise.all([
          trickleH2(session, { ":method": "POST", ":path": "/tessera.v1.AuthService/GetAuthConfig", "content-type": "application/json" }, Buffer.from("{")),
          // A gRPC envelope announcing 1000 bytes that never all arrive.
          trickleH2(
            session,
            { ":method": "POST", ":path": "/tessera.v1.AuthService/GetAuthConfig", "content-type": "application/grpc", te: "trailers" },
            Buffer.from([0, 0, 0, 0x03, 0xe8]),
          ),
        ]),
        REQUEST_MS + SLACK_MS,
        "trickling h2c streams answered and closed",
      );
      expect(JSON.parse(connect.body)).toMatchObject({ code: "deadline_exceeded", message: "request not received within 2 s" });
      const status = grpc.trailers?.["grpc-status"] ?? grpc.headers?.["grpc-status"];
      expect(status).toBe("4"); // DEADLINE_EXCEEDED
      expect(decodeURIComponent(String(grpc.trailers?.["grpc-message"] ?? grpc.headers?.["grpc-message"]))).toBe("request not received within 2 s");
      // The connection itself keeps serving.
      const ok = session.request({ ":path": "/health" });
      ok.end();
      const st = await within(new Promise<number>((r) => ok.on("response", (h) => r(Number(h[":status"])))), 5000, "health on the same connection");
      ok.resume();
      expect(st).toBe(200);
    } finally {
      session.destroy();
    }
  });

  it("finding 6: an HTTP/1.1 request that trickles its body gets 408 within REQUEST_TIMEOUT_MS", async () => {
    const s = rawSocket(server.port);
    await s.connected;
    s.sock.write("POST /tessera.v1.AuthService/GetAuthConfig HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
    const iv = setInterval(() => !s.sock.destroyed && s.sock.write(" "), 300);
    try {
      await within(s.closed, REQUEST_MS + SLACK_MS, "trickling HTTP/1.1 request closed");
    } finally {
      clearInterval(iv);
    }
    expect(s.data()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("finding 6: a connection gets HEADERS_TIMEOUT_MS from accept to its first request, whatever it trickles", async () => {
    const bound = HEADERS_MS + SLACK_MS;
    // The HTTP/2 preface, one byte every 250 ms (it would take 6 s).
    const preface = rawSocket(server.port);
    await preface.connected;
    let sent = 0;
    const iv1 = setInterval(() => sent < H2_PREFACE.length && !preface.sock.destroyed && preface.sock.write(H2_PREFACE.subarray(sent, ++sent)), 250);
    // A complete preface, then a header block that never ends (CONTINUATION frames).
    const block = rawH2(server.port);
    block.write(Buffer.concat([H2_PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    block.write(
      frame(
        FRAME.HEADERS,
        0,
        1,
        headerBlock([
          [":method", "GET"],
          [":path", "/health"],
          [":scheme", "http"],
          [":authority", "x"],
        ]),
      ),
    );
    const iv2 = setInterval(() => block.write(frame(FRAME.CONTINUATION, 0, 1, headerBlock([["x-slow", "a"]]))), 250);
    // An HTTP/1.1 request line and then header lines, one every 250 ms.
    const h1 = rawSocket(server.port);
    await h1.connected;
    h1.sock.write("GET /health HTTP/1.1\r\n");
    const iv3 = setInterval(() => !h1.sock.destroyed && h1.sock.write(`X-Slow-${Date.now()}: a\r\n`), 250);
    try {
      await within(Promise.all([preface.closed, block.whenClosed, h1.closed]), bound, "trickling connections closed");
    } finally {
      [iv1, iv2, iv3].forEach(clearInterval);
      block.close();
    }
    expect(sent).toBeLessThan(H2_PREFACE.length);
    expect(block.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(true);
    expect(h1.data()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("finding 6: an h2c connection without an open stream is closed (GOAWAY) after REQUEST_TIMEOUT_MS", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    const goaway = new Promise<void>((r) => session.once("goaway", () => r()));
    const closed = new Promise<void>((r) => session.once("close", () => r()));
    const req = session.request({ ":path": "/health" });
    req.end();
    req.resume();
    await new Promise((r) => req.on("close", r));
    await within(Promise.all([goaway, closed]), REQUEST_MS + SLACK_MS, "idle h2c connection closed");
  });

  it("finding 6: a response that streams for longer than REQUEST_TIMEOUT_MS after its request ended is not cut, on h2c and HTTP/1.1", async () => {
    // The request limit is about receiving the request: a server-streaming RPC (a future
    // WatchRevocations) answers for as long as it needs once the client has sent its request.
    const ticks = Math.ceil((REQUEST_MS * 1.75) / 200);
    const direct: TesseraServer = createServer({
      config: {
        readMaxBytes: 1024,
        maxTimeoutMs: 30_000,
        trustProxyHops: 0,
        shutdownTimeoutMs: 1000,
        headersTimeoutMs: HEADERS_MS,
        requestTimeoutMs: REQUEST_MS,
        maxConnections: 100,
        maxConnectionsPerIp: 0,
        tls: undefined,
      },
      logger: createLogger({ json: true, level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
      routes: () => {},
      interceptors: [],
      httpHandlers: [
        async (req, res) => {
          for await (const _ of req); // the whole request first
          (res as http.ServerResponse).writeHead(200, { "content-type": "text/plain" });
          for (let i = 0; i < ticks; i++) {
            (res as http.ServerResponse).write("tick\n");
            await new Promise((r) => setTimeout(r, 200));
          }
          res.end();
          return true;
        },
      ],
    });
    const port = await direct.listen(0, "127.0.0.1");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    try {
      const overH2 = new Promise<Exchange>((resolve) => {
        const ex: Exchange = { headers: undefined, trailers: undefined, body: "", rstCode: undefined };
        const req = session.request({ ":method": "POST", ":path": "/watch" });
        req.end("x");
        req.on("response", (h) => (ex.headers = h));
        req.on("data", (d: Buffer) => (ex.body += d.toString()));
        req.on("error", () => {});
        req.on("close", () => resolve({ ...ex, rstCode: req.rstCode }));
      });
      const overH1 = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/watch", agent: false }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end("x");
      });
      const [h2res, h1res] = await within(Promise.all([overH2, overH1]), ticks * 200 + 10_000, "streamed responses");
      expect(h2res.headers?.[":status"]).toBe(200);
      expect(h2res.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(h2res.body.split("\n").filter(Boolean)).toHaveLength(ticks);
      expect(h1res.status).toBe(200);
      expect(h1res.body.split("\n").filter(Boolean)).toHaveLength(ticks);
    } finally {
      session.destroy();
      await direct.close(1000);
    }
  });
});

describe("finding 6: HTTP/2 concurrent streams", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await tessera.startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finding 6: h2c advertises 100 concurrent streams per connection and enforces it: the 101st is refused, or the connection ends", async () => {
    const headers = headerBlock([
      [":method", "POST"],
      [":path", "/tessera.v1.AuthService/GetAuthConfig"],
      [":scheme", "http"],
      [":authority", "127.0.0.1"],
      ["content-type", "application/json"],
    ]);
    /** 101 requests whose bodies never come, from a client that ignores the server's SETTINGS. */
    const open101 = () => Buffer.concat(Array.from({ length: 101 }, (_, i) => frame(FRAME.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, headers)));
    const serverSettings = (c: ReturnType<typeof rawH2>) => c.frames.find((f) => f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK));

    // Sent before the client has acknowledged the setting: the 101st stream is refused
    // (RST_STREAM REFUSED_STREAM, safe to retry) and the other 100 are served.
    const early = rawH2(server.port);
    try {
      early.write(Buffer.concat([H2_PREFACE, frame(FRAME.SETTINGS, 0, 0), open101()]));
      await until(() => early.frames.some((f) => f.type === FRAME.RST_STREAM && f.streamId === 201), 5000, "RST_STREAM for the 101st stream");
      expect(settingsOf(serverSettings(early)!).get(0x3)).toBe(100); // SETTINGS_MAX_CONCURRENT_STREAMS
      const rst = early.frames.find((f) => f.type === FRAME.RST_STREAM && f.streamId === 201)!;
      expect(rst.payload.readUInt32BE(0)).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
      expect(early.frames.filter((f) => f.type === FRAME.RST_STREAM && f.streamId !== 201)).toEqual([]);
      early.write(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from("{}")));
      await until(() => early.frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 1), 5000, "answer on stream 1");
      expect(early.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(false);
    } finally {
      early.close();
    }

    // Exceeding the acknowledged setting is a protocol error: the connection ends (GOAWAY).
    const late = rawH2(server.port);
    try {
      late.write(Buffer.concat([H2_PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
      await until(() => serverSettings(late) !== undefined, 5000, "server SETTINGS");
      expect(settingsOf(serverSettings(late)!).get(0x3)).toBe(100);
      await until(() => late.frames.some((f) => f.type === FRAME.SETTINGS && f.flags & FLAG.ACK), 5000, "server ACKs the client SETTINGS");
      await new Promise((r) => setImmediate(r));
      late.write(open101());
      await within(late.whenClosed, 5000, "connection closed");
      expect(late.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(true);
      expect(late.frames.some((f) => f.type === FRAME.HEADERS && f.streamId === 201)).toBe(false);
    } finally {
      late.close();
    }
  });
});

describe("finding 6: connection caps (MAX_CONNECTIONS=5, MAX_CONNECTIONS_PER_IP=3)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await tessera.startServer({ env: { MAX_CONNECTIONS: "5", MAX_CONNECTIONS_PER_IP: "3" } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("finding 6: refuses a connection over MAX_CONNECTIONS_PER_IP with 429 on HTTP/1.1 and GOAWAY ENHANCE_YOUR_CALM on h2c, and admits the address again once one closes", async () => {
    await until(() => server.app.server.openConnections() === 0, 5000, "no connections left over");
    const held = await hold(server, 3, "127.0.0.1");
    try {
      const refused = await h1Get(server.port, "/health", "127.0.0.1");
      expect(refused).toMatch(/^HTTP\/1\.1 429 /);
      expect(refused).toMatch(/retry-after: 1/i);
      expect(JSON.parse(refused.slice(refused.indexOf("\r\n\r\n") + 4))).toMatchObject({
        code: "resource_exhausted",
        message: expect.stringContaining("too many connections from this address"),
      });
      const goaway = await h2Goaway(server.port, "127.0.0.1");
      expect(goaway).toEqual({ errorCode: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, message: "too many connections from this address" });
      // Another address is not affected.
      expect(await h1Get(server.port, "/health", "127.0.0.2")).toMatch(/^HTTP\/1\.1 200 /);
      // One closes: the address gets in again.
      held[0]!.sock.destroy();
      await until(() => server.app.server.openConnections() === 2, 5000, "the closed connection is no longer counted");
      expect(await h1Get(server.port, "/health", "127.0.0.1")).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of held) s.sock.destroy();
    }
  });

  it("finding 6: refuses any connection over MAX_CONNECTIONS with 503 on HTTP/1.1 and GOAWAY REFUSED_STREAM on h2c", async () => {
    await until(() => server.app.server.openConnections() === 0, 5000, "no connections left over");
    const held = [...(await hold(server, 3, "127.0.0.1")), ...(await hold(server, 2, "127.0.0.2"))];
    try {
      const refused = await h1Get(server.port, "/health", "127.0.0.3");
      expect(refused).toMatch(/^HTTP\/1\.1 503 /);
      expect(JSON.parse(refused.slice(refused.indexOf("\r\n\r\n") + 4))).toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("connection limit"),
      });
      const goaway = await h2Goaway(server.port, "127.0.0.3");
      expect(goaway).toEqual({ errorCode: http2.constants.NGHTTP2_REFUSED_STREAM, message: "the server is at its connection limit" });
      expect(server.app.server.openConnections()).toBe(5);
    } finally {
      for (const s of held) s.sock.destroy();
    }
    await until(() => server.app.server.openConnections() === 0, 5000, "all closed");
    expect(await h1Get(server.port, "/health", "127.0.0.3")).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe("finding 6: limit settings", () => {
  it("finding 6: connection and request limits have documented defaults, and no per-address cap behind a trusted proxy unless set", () => {
    expect(loadConfig({})).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, maxConnections: 4096, maxConnectionsPerIp: 256 });
    expect(loadConfig({ TRUST_PROXY_HOPS: "1" }).maxConnectionsPerIp).toBe(0);
    expect(loadConfig({ TRUST_PROXY_HOPS: "1", MAX_CONNECTIONS_PER_IP: "64" }).maxConnectionsPerIp).toBe(64);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: "20000", REQUEST_TIMEOUT_MS: "10000" })).toThrow(ConfigError);
    expect(() => loadConfig({ MAX_CONNECTIONS: "0" })).toThrow(/MAX_CONNECTIONS/);
  });

  it("finding 6: counts IPv6 clients by their /64 and IPv4-mapped clients by their IPv4 address", () => {
    expect(connectionKey("203.0.113.7")).toBe("203.0.113.7");
    expect(connectionKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(connectionKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(connectionKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(connectionKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(connectionKey("::1")).toBe("0:0:0:0::/64");
  });
});
