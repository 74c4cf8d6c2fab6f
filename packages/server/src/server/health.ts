/**
 * `GET /health`: 200 with `{status, version, auth_mode, database, rate_limits}` while the
 * database answers, 503 otherwise. The database check is cached for a second so probes
 * under load cost nothing. `rate_limits` says where abuse limits are counted (`memory`,
 * `redis`, or `memory (redis unavailable: limits are per instance)`); a Redis outage does
 * not fail health, since the limits still hold per instance.
 */
import type { Config } from "../config/config.js";
import { sendJson, type HttpHandler } from "../lib/http.js";
import type { Db } from "../store/db.js";

/** Builds the /health handler. */
export function createHealthHandler(config: Pick<Config, "version" | "authMode">, db: Db, rateLimits: () => string): HttpHandler {
  let last: { at: number; ok: boolean } | undefined;
  let pending: Promise<boolean> | undefined;
  async function check(): Promise<boolean> {
    if (last && Date.now() - last.at < 1000) return last.ok;
    pending ??= db
      .ping(1500)
      .then(() => true, () => false)
      .then((ok) => {
        last = { at: Date.now(), ok };
        pending = undefined;
        return ok;
      });
    return pending;
  }
  return async (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/health") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { code: "method_not_allowed" }, { allow: "GET, HEAD" });
      return true;
    }
    const ok = await check();
    sendJson(
      res,
      ok ? 200 : 503,
      {
        status: ok ? "ok" : "unavailable",
        version: config.version,
        auth_mode: config.authMode,
        database: ok ? "ok" : "unreachable",
        rate_limits: rateLimits(),
      },
      { "cache-control": "no-store" },
    );
    return true;
  };
}
