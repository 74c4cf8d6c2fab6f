/**
 * `GET /health`: 200 with `{status, version, auth_mode, database, rate_limits,
 * revocation_broadcast}` while the database answers, 503 otherwise. `status` is `ok`, or
 * `degraded` (still 200) when the revocation broadcast does not work (`revocation_broadcast`
 * is then `{status: "broken", reason}`): the instance still refuses revoked credentials
 * within a second, by reading the revocation log instead of trusting its caches, so taking
 * it out of rotation would only turn a slower path into an outage (every instance behind
 * the same pooler would fail alike). Alert on `degraded`, do not route on it. The database check is cached for a second so probes
 * under load cost nothing. `rate_limits` says where abuse limits are counted (`memory`,
 * `redis`, or `memory (redis unavailable: limits are per instance)`); a Redis outage does
 * not fail health, since the limits still hold per instance.
 */
import type { Config } from "../config/config.js";
import { sendJson, type HttpHandler } from "../lib/http.js";
import type { Db } from "../store/db.js";

/** The revocation broadcast's state (auth/revocation/log.ts). */
export type BroadcastState = () => { ok: boolean; reason?: string };

/** Builds the /health handler. */
export function createHealthHandler(config: Pick<Config, "version" | "authMode">, db: Db, rateLimits: () => string, broadcast?: BroadcastState): HttpHandler {
  let last: { at: number; ok: boolean } | undefined;
  let pending: Promise<boolean> | undefined;
  async function check(): Promise<boolean> {
    if (last && Date.now() - last.at < 1000) return last.ok;
    pending ??= db
      .ping(1500)
      .then(
        () => true,
        () => false,
      )
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
    const b = broadcast?.();
    sendJson(
      res,
      ok ? 200 : 503,
      {
        status: !ok ? "unavailable" : b && !b.ok ? "degraded" : "ok",
        version: config.version,
        auth_mode: config.authMode,
        database: ok ? "ok" : "unreachable",
        rate_limits: rateLimits(),
        ...(b ? { revocation_broadcast: b.ok ? { status: "ok" } : { status: "broken", reason: b.reason } } : {}),
      },
      { "cache-control": "no-store" },
    );
    return true;
  };
}
