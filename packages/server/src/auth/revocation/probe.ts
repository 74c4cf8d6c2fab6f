/**
 * The broadcast proves itself: at startup and every REVOCATION_PROBE_INTERVAL_MS this
 * instance NOTIFYs itself `probe:<instance>:<n>` on the revocation channel and expects it
 * back on its LISTEN connection within PROBE_TIMEOUT_MS. When it does not come back, the
 * log says so once (with the likely cause and the fix) and `/health` reports it, until a
 * probe comes back again. Behind a transaction pooler (PgBouncer `pool_mode =
 * transaction`, RDS Proxy, Supavisor, Neon's pooler), LISTEN is accepted but nothing is
 * ever delivered: that is the case this exists for.
 */
import type { Logger } from "../../lib/logger.js";
import type { Db } from "../../store/db.js";

/** How long a probe may take to come back. */
const PROBE_TIMEOUT_MS = 2000;

export interface BroadcastProbe {
  /** Runs the first probe (awaited) and schedules the next ones. */
  start(): Promise<void>;
  stop(): void;
  /** True when `payload` was a probe (of any instance); consumes this instance's. */
  receive(payload: string): boolean;
  /** True while the last probe came back and the listener is connected. */
  healthy(): boolean;
  status(): { ok: boolean; reason?: string };
}

export function createBroadcastProbe(opts: {
  db: Pick<Db, "notify" | "listenerConnected" | "kind">;
  logger: Logger;
  channel: string;
  instanceId: string;
  intervalMs: number;
  /** Whether DATABASE_LISTEN_URL is set (changes the advice). */
  listenUrlSet: boolean;
  /** Called when health changes. */
  onChange(): void;
}): BroadcastProbe {
  const { db, logger, channel, instanceId } = opts;
  const prefix = `probe:${instanceId}:`;
  let n = 0;
  let pending: { n: number; resolve(ok: boolean): void } | undefined;
  let ok = false;
  let reason: string | undefined = "not probed yet";
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let probed = false;

  function set(nowOk: boolean, why?: string): void {
    const changed = nowOk !== ok || !probed;
    const first = !probed;
    probed = true;
    ok = nowOk;
    reason = nowOk ? undefined : why;
    if (!changed) return;
    if (nowOk && first) logger.debug("revocation broadcast works: this instance's notification came back");
    else if (nowOk) logger.info("revocation broadcast works again: this instance's notification came back; caches are trusted again");
    else {
      const advice = opts.listenUrlSet
        ? "check that DATABASE_LISTEN_URL is a direct or session-mode connection to the same database"
        : "likely cause: a transaction pooler (PgBouncer pool_mode=transaction, RDS Proxy, Supavisor, Neon's pooler) in front of DATABASE_URL, which never delivers LISTEN notifications; fix: set DATABASE_LISTEN_URL to a direct or session-mode connection";
      logger.error(
        { reason: why, fail_safe: "API keys and tokens are checked against the revocation log at least every second" },
        `revocation broadcast not working: ${why}; ${advice}`,
      );
    }
    opts.onChange();
  }

  async function probeOnce(): Promise<void> {
    if (stopped) return;
    if (!db.listenerConnected()) return set(false, "the LISTEN connection is down");
    const mine = ++n;
    const came = new Promise<boolean>((resolve) => {
      pending = { n: mine, resolve };
      setTimeout(() => resolve(false), PROBE_TIMEOUT_MS).unref();
    });
    try {
      await db.notify(channel, `${prefix}${mine}`);
    } catch (e) {
      pending = undefined;
      return set(false, `could not send a notification (${(e as Error).message})`);
    }
    const back = await came;
    if (pending?.n === mine) pending = undefined;
    if (stopped) return;
    if (back) set(true);
    else set(false, `this instance's own notification did not come back within ${PROBE_TIMEOUT_MS} ms`);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      probeOnce().finally(schedule);
    }, opts.intervalMs);
    timer.unref();
  }

  return {
    async start() {
      stopped = false;
      await probeOnce();
      schedule();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      pending?.resolve(false);
    },
    receive(payload) {
      if (!payload.startsWith("probe:")) return false;
      if (payload.startsWith(prefix) && pending && payload === `${prefix}${pending.n}`) pending.resolve(true);
      return true;
    },
    healthy: () => ok && db.listenerConnected(),
    status() {
      if (!db.listenerConnected()) return { ok: false, reason: "the LISTEN connection is down" };
      return ok ? { ok: true } : { ok: false, reason: reason ?? "unknown" };
    },
  };
}
