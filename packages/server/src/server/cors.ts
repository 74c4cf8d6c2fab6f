/**
 * CORS for browser callers (Connect and gRPC-web). Only origins listed in
 * CORS_ALLOWED_ORIGINS get CORS headers; preflights are answered here and cached.
 */
import type { HttpHandler } from "../lib/http.js";

/** Request headers Connect, gRPC-web and Tessera's bearer need. */
const CORS_ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-accept-encoding",
  "connect-content-encoding",
  "grpc-timeout",
  "grpc-accept-encoding",
  "x-grpc-web",
  "x-user-agent",
];

/** Response headers browsers may read: gRPC(-web) status and the bearer challenge. */
const CORS_EXPOSED_HEADERS = ["grpc-status", "grpc-message", "grpc-status-details-bin", "www-authenticate", "retry-after"];

/** Preflight results are cached by browsers for this long. */
const CORS_MAX_AGE_SECONDS = 7200;

/** Builds the CORS handler; with no allowed origins it does nothing. */
export function createCorsHandler(allowedOrigins: readonly string[]): HttpHandler {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, "")));
  return (req, res) => {
    if (allowed.size === 0) return false;
    const origin = req.headers.origin;
    if (typeof origin !== "string" || !allowed.has(origin)) return false;
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "Origin");
    const isPreflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!isPreflight) {
      res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
      return false;
    }
    res.setHeader("access-control-allow-methods", "GET, POST");
    res.setHeader("access-control-allow-headers", CORS_ALLOWED_HEADERS.join(", "));
    res.setHeader("access-control-max-age", String(CORS_MAX_AGE_SECONDS));
    res.statusCode = 204;
    res.end();
    return true;
  };
}
