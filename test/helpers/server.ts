/**
 * Starts the real application in-process on a free port against a test database,
 * with a logger whose lines the test can read.
 */
import { Writable } from "node:stream";
import { Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import type { SpanExporter } from "@opentelemetry/sdk-trace-node";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createApp, type App } from "../../packages/server/src/app.js";
import { loadConfig } from "../../packages/server/src/config/config.js";
import type { Clock } from "../../packages/server/src/deps.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import type { TestDatabase } from "./db.js";
import { codeOf } from "./outcome.js";

export type Protocol = "connect" | "grpc" | "grpc-web";

export interface TestServer {
  app: App;
  baseUrl: string;
  port: number;
  /** Every log line written so far. */
  logs: string[];
  /** A transport to this server. */
  transport(protocol?: Protocol, headers?: Record<string, string>): Transport;
  /** A typed client to this server, optionally with a bearer token. */
  client<S extends DescService>(service: S, opts?: { token?: string; protocol?: Protocol }): Client<S>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for loadConfig (AUTH_MODE, ...). */
  env?: Record<string, string>;
  clock?: Clock;
  /** Let the app open its own connection from the database's env instead of sharing the test's. */
  ownDatabase?: boolean;
  /** Where the app's spans go (tracing on, whatever OTEL_TRACES_EXPORTER says). */
  spanExporter?: SpanExporter;
}

/** Starts a server on 127.0.0.1 and a free port (or `env.PORT`). */
export async function startTestServer(database: TestDatabase, opts: StartOptions = {}): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(line);
      cb();
    },
  });
  const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "debug", ...database.env, ...opts.env });
  // Lines of a busy logger reach the sink up to LINGER_MS late (lib/line-writer.ts): `logs` flushes first.
  const logger = createLogger({ json: true, level: "debug", destination: sink });
  const app = await createApp(config, {
    logger,
    db: opts.ownDatabase ? undefined : database.db,
    clock: opts.clock,
    spanExporter: opts.spanExporter,
  });
  // A free port unless the env names one (a provider that matches redirect URIs exactly needs it known first).
  const port = await app.listen(config.port);
  const baseUrl = `http://127.0.0.1:${port}`;
  const transport = (protocol: Protocol = "connect", headers: Record<string, string> = {}): Transport => {
    const interceptors = Object.keys(headers).length
      ? [
          (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
            async (req: Parameters<Parameters<import("@connectrpc/connect").Interceptor>[0]>[0]) => {
              for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
              return next(req);
            },
        ]
      : [];
    if (protocol === "grpc") return createGrpcTransport({ baseUrl, interceptors });
    if (protocol === "grpc-web") return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
    return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors });
  };
  return {
    app,
    baseUrl,
    port,
    get logs() {
      logger.flush();
      return logs;
    },
    transport,
    client(service, o = {}) {
      return createClient(service, transport(o.protocol, o.token ? { authorization: `Bearer ${o.token}` } : {}));
    },
    close: () => app.close(),
  };
}

/**
 * Polls CheckToken with `token` on `server` until it answers Unauthenticated and
 * resolves with how long that took (ms), or with the elapsed time once past `limitMs`.
 * A revocation made through another instance (or another server sharing the test's
 * connection) reaches this one's cache through NOTIFY, so it is asynchronous: tests
 * must wait for it rather than expect it on the very next request. Any answer other
 * than ok or Unauthenticated fails at once.
 */
export async function msUntilRejected(server: TestServer, token: string, limitMs = 3000): Promise<number> {
  const start = performance.now();
  for (;;) {
    const code = await codeOf(server.client(AuthService, { token }).checkToken({}));
    const elapsed = performance.now() - start;
    if (code === Code.Unauthenticated) return elapsed;
    if (code !== "ok") throw new Error(`expected ok or unauthenticated, got ${Code[code]}`);
    if (elapsed > limitMs) return elapsed;
    await new Promise((res) => setTimeout(res, 20));
  }
}
