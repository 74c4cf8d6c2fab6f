/**
 * The metrics listener: `GET /metrics` in Prometheus's text format on METRICS_HOST:METRICS_PORT,
 * a plain HTTP/1.1 server of its own so the public port never serves it. Anything else: 404.
 */
import http from "node:http";
import type net from "node:net";
import type { Registry } from "prom-client";

/** A running metrics listener. */
export interface MetricsListener {
  address(): net.AddressInfo;
  close(): Promise<void>;
}

/** Starts serving `registry`; resolves once listening. */
export async function startMetricsListener(registry: Registry, host: string, port: number, onError: (e: Error) => void): Promise<MetricsListener> {
  const server = http.createServer({ headersTimeout: 5_000, requestTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : body),
      (e: Error) => {
        onError(e);
        res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    address: () => server.address() as net.AddressInfo,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
