/**
 * AUTH_MODE=none answers every caller as the admin of the default account, without
 * credentials, so only this machine may call it (issue 13, finding 13). A web page could
 * otherwise drive a developer's local instance in two ways:
 * - DNS rebinding: a page at `http://rebound.example:8080` whose name the attacker then
 *   resolves to 127.0.0.1; the browser sends `Host: rebound.example:8080`;
 * - cross-site requests: a page at `https://evil.example` sending requests to
 *   `http://127.0.0.1:8080`; the browser sends `Origin: https://evil.example`.
 * So in AUTH_MODE=none a request must be addressed (`Host`, or HTTP/2 `:authority`) to
 * localhost, 127.0.0.1, [::1], HOST or TESSERA_PUBLIC_URL's host (on any port: a rebinding
 * page can choose its port, never the name the browser sends); and a request with an
 * `Origin` must come from a loopback origin, an origin of one of those names, or
 * CORS_ALLOWED_ORIGINS. Anything else is refused
 * before any handler: 421 (Host) or 403 (Origin) with JSON `{code, message}` naming the
 * fix (`permission_denied`, which Connect clients read as PermissionDenied).
 */
import type { Config } from "../config/config.js";
import type { Logger } from "../lib/logger.js";
import { sendJson, type HttpHandler } from "../lib/http.js";

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** The host name of a `name[:port]` or `[v6][:port]` authority, lower-cased; undefined when malformed. */
function authorityHost(value: string): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@?#]+)(?::\d{1,5})?$/i.exec(value);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** Host names as they appear in a Host header (IPv6 in brackets). */
function asHostName(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** Printable, bounded, for messages and logs. */
function shown(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

/** What the guard checks requests against. */
export interface LocalOnlyOptions {
  config: Pick<Config, "host" | "publicUrl" | "corsAllowedOrigins">;
  logger: Pick<Logger, "warn">;
}

/** Builds the AUTH_MODE=none guard; put it before every other handler. */
export function createLocalOnlyGuard(opts: LocalOnlyOptions): HttpHandler {
  const { config, logger } = opts;
  const publicHost = new URL(config.publicUrl).hostname.toLowerCase();
  const corsOrigins = new Set(config.corsAllowedOrigins.map((o) => o.replace(/\/+$/, "")));
  const names = new Set(["localhost", "127.0.0.1", "[::1]", asHostName(config.host).toLowerCase(), publicHost]);
  const hostAllowed = (name: string) => names.has(name) || isLoopbackHost(name);
  let lastWarning = 0;

  function originAllowed(origin: string): boolean {
    if (corsOrigins.has(origin)) return true;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false; // including the opaque origin "null"
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") return false;
    return hostAllowed(u.hostname.toLowerCase());
  }

  function warn(what: Record<string, string>, message: string): void {
    const now = Date.now();
    if (now - lastWarning < 60_000) return; // at most one line a minute, whatever a page sends
    lastWarning = now;
    logger.warn(what, message);
  }

  return (req, res) => {
    const headers = req.headers as Record<string, string | string[] | undefined>;
    const rawHost = headers[":authority"] ?? headers.host;
    const host = typeof rawHost === "string" ? rawHost : "";
    const name = authorityHost(host);
    if (name === undefined || !hostAllowed(name)) {
      warn({ host: shown(host) }, "AUTH_MODE=none: refused a request addressed to another host name (DNS rebinding?)");
      sendJson(
        res,
        421,
        {
          code: "permission_denied",
          message:
            `AUTH_MODE=none answers only requests addressed to this machine (localhost, 127.0.0.1 or [::1], ` +
            `HOST, or TESSERA_PUBLIC_URL); "${shown(host)}" is none of them. If you reach Tessera by that name, set ` +
            `TESSERA_PUBLIC_URL to it, or run with AUTH_MODE=admin or full`,
        },
        { "cache-control": "no-store" },
      );
      return true;
    }
    const origin = headers.origin;
    if (origin !== undefined && (typeof origin !== "string" || !originAllowed(origin.replace(/\/+$/, "")))) {
      const o = shown(String(origin));
      warn({ origin: o }, "AUTH_MODE=none: refused a browser request from another site");
      sendJson(
        res,
        403,
        {
          code: "permission_denied",
          message: `AUTH_MODE=none refuses browser requests from other sites: Origin "${o}" is not a loopback origin. If that page is yours, add its origin to CORS_ALLOWED_ORIGINS, or run with AUTH_MODE=admin or full`,
        },
        { "cache-control": "no-store" },
      );
      return true;
    }
    return false;
  };
}
