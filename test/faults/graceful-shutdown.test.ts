/**
 * SIGTERM during load: requests already in flight finish, new connections are refused,
 * and the process exits within SHUTDOWN_TIMEOUT_SECONDS, even when a client never
 * finishes its request.
 */
import http from "node:http";
import { describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { startServerProcess } from "./process.js";

/** POSTs GetAuthConfig with its body trickled over `ms`; resolves with status and body. */
function slowRequest(port: number, ms: number, finish = true): { done: Promise<{ status: number; body: string }>; started: Promise<void> } {
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const done = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/tessera.v1.AuthService/GetAuthConfig",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.flushHeaders();
    req.write("{");
    setTimeout(started, 100);
    const steps = 10;
    let i = 0;
    const timer = setInterval(() => {
      if (++i < steps) {
        req.write(" ");
        return;
      }
      clearInterval(timer);
      if (finish) req.end("}");
    }, ms / steps);
  });
  return { done, started: startedP };
}

describe("graceful shutdown", () => {
  const t = useTessera({ server: false });

  it("finishes in-flight requests, refuses new connections, exits 0 in time", async () => {
    const server = await startServerProcess({ ...t.database.env, SHUTDOWN_TIMEOUT_SECONDS: "5" });
    const inflight = Array.from({ length: 5 }, () => slowRequest(server.port, 1500));
    await Promise.all(inflight.map((r) => r.started));
    const t0 = Date.now();
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${server.baseUrl}/health`)).rejects.toThrow();
    const results = await Promise.all(inflight.map((r) => r.done));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ mode: "AUTH_MODE_NONE" });
    }
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("exits within SHUTDOWN_TIMEOUT_SECONDS when a client never finishes its request", async () => {
    const server = await startServerProcess({ ...t.database.env, SHUTDOWN_TIMEOUT_SECONDS: "2" });
    const stuck = slowRequest(server.port, 60_000, false);
    await stuck.started;
    stuck.done.catch(() => {});
    const t0 = Date.now();
    server.child.kill("SIGTERM");
    const exit = await server.exited;
    const took = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(4000);
  });
});
