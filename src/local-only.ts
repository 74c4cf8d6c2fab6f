/**
 * AUTH_MODE=none answers every caller as the admin of the default account, without
 * credentials, so only this machine may call it (issue 13, finding 13). A web page could
 * otherwise drive a developer's local instance in two ways:
 * - DNS rebinding: a page at `http://rebound.example:8080` whose name the attacker then
 *   resolves to 127.0.0.1; the browser sends `Host: rebound.example:8080`;
 * - cross-site requests: a page at `https://evil.example` sending requests to
 *   `http://127.0.0.1:8080`; the browser sends `Origin: https://evil.example`.
 * So in AUTH_MODE=none a request must be addressed (`Host`, or HTTP/2 `:authority`) to
 * localhost, 127.0.0.1, [::1] or HOST on the listening port, or to TESSERA_PUBLIC_URL's
 * host and port; and a request with an `Origin` must come from a loopback origin, an
 * origin of one of those addresses, or CORS_ALLOWED_ORIGINS. Anything else is refused
 * before any handler: 421 (Host) or 403 (Origin) with JSON `{code, message}` naming the
 * fix (`permission_denied`, which Connect clients read as PermissionDenied).
 */
import type { Config } from "./config.js";
import type { Logger } from "./logger.js";
import { sendJson, type HttpHandler } from "./server.js";

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** `name:port` or `[v6]:port`, lower-cased, port without leading zeros; undefined when malformed. */
function authorityKey(value: string, defaultPort: number): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s/@?#]+)(?::(\d{1,5}))?$/i.exec(value);
  if (!m) return undefined;
  return `${m[1]!.toLowerCase()}:${m[2] !== undefined ? Number(m[2]) : defaultPort}`;
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
  /** The port the server listens on (known once it listens). */
  port(): number;
  logger: Pick<Logger, "warn">;
}

/** Builds the AUTH_MODE=none guard; put it before every other handler. */
export function createLocalOnlyGuard(opts: LocalOnlyOptions): HttpHandler {
  const { config, logger } = opts;
  const publicUrl = new URL(config.publicUrl);
  const publicKey = `${publicUrl.hostname.toLowerCase()}:${Number(publicUrl.port || (publicUrl.protocol === "https:" ? 443 : 80))}`;
  const corsOrigins = new Set(config.corsAllowedOrigins.map((o) => o.replace(/\/+$/, "")));
  let allowed: { port: number; keys: Set<string> } | undefined;
  let lastWarning = 0;

  function allowedKeys(): Set<string> {
    const port = opts.port();
    if (allowed?.port !== port) {
      const names = ["localhost", "127.0.0.1", "[::1]", asHostName(config.host).toLowerCase()];
      allowed = { port, keys: new Set([...names.map((n) => `${n}:${port}`), publicKey]) };
    }
    return allowed.keys;
  }

  function originAllowed(origin: string): boolean {
    if (corsOrigins.has(origin)) return true;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return false; // including the opaque origin "null"
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") return false;
    if (isLoopbackHost(u.hostname)) return true;
    return allowedKeys().has(`${u.hostname.toLowerCase()}:${Number(u.port || (u.protocol === "https:" ? 443 : 80))}`);
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
    const key = authorityKey(host, 80);
    if (key === undefined || !allowedKeys().has(key)) {
      warn({ host: shown(host) }, "AUTH_MODE=none: refused a request addressed to another host name (DNS rebinding?)");
      sendJson(
        res,
        421,
        {
          code: "permission_denied",
          message:
            `AUTH_MODE=none answers only requests addressed to this machine (localhost, 127.0.0.1 or [::1] on port ${opts.port()}, ` +
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
