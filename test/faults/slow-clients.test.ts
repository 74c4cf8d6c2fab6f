/**
 * Slow clients cannot hold sockets forever: a connection that never sends a byte, and
 * one that trickles its headers (slowloris), are both closed after about 10 s.
 */
import net from "node:net";
import { describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";

/** Opens a socket, runs `feed` on it, resolves with how long until the server closed it. */
function closedAfterMs(port: number, feed: (s: net.Socket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = net.connect(port, "127.0.0.1", () => feed(s));
    s.on("close", () => resolve(Date.now() - t0));
    s.on("error", () => {});
    setTimeout(() => {
      s.destroy();
      reject(new Error("server kept the socket open for 30 s"));
    }, 30_000).unref();
  });
}

describe("slow clients", () => {
  const t = useTessera();

  it("closes a connection that sends nothing", async () => {
    const ms = await closedAfterMs(t.server.port, () => {});
    expect(ms).toBeGreaterThanOrEqual(9_000);
    expect(ms).toBeLessThan(13_000);
  });

  it("closes a connection that trickles its headers", async () => {
    const ms = await closedAfterMs(t.server.port, (s) => {
      s.write("POST /tessera.v1.AuthService/GetAuthConfig HTTP/1.1\r\nHost: x\r\n");
      const timer = setInterval(() => {
        if (s.destroyed) return clearInterval(timer);
        s.write(`X-Slow-${Date.now()}: a\r\n`);
      }, 500);
      s.on("close", () => clearInterval(timer));
    });
    expect(ms).toBeGreaterThanOrEqual(9_000);
    expect(ms).toBeLessThan(13_000);
    // The server is still serving everyone else.
    expect((await fetch(`${t.server.baseUrl}/health`)).status).toBe(200);
  });
});
