/**
 * CORS: allowed origins get the headers Connect and gRPC-web need; others get none.
 */
import { describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";

describe("CORS", () => {
  const t = useTessera({ env: { CORS_ALLOWED_ORIGINS: "http://app.example.com, http://localhost:5173" } });

  it("answers a preflight from an allowed origin, cached", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "OPTIONS",
      headers: {
        origin: "http://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example.com");
    const allowHeaders = res.headers.get("access-control-allow-headers") ?? "";
    for (const h of ["content-type", "x-grpc-web", "authorization", "connect-protocol-version", "grpc-timeout"]) expect(allowHeaders).toContain(h);
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
  });

  it("exposes gRPC-web status headers on actual requests", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { origin: "http://localhost:5173", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(res.headers.get("access-control-expose-headers")).toContain("grpc-status");
  });

  it("gives no CORS headers to other origins", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { origin: "http://evil.example.com", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example.com", "access-control-request-method": "POST" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });
});
