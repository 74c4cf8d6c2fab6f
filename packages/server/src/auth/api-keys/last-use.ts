/**
 * Where and when each API key was last used (`last_used_at`, client IP, user agent),
 * written in the background: the verifier queues a key's use at most once a minute
 * (LAST_USED_GRANULARITY_MS), and the queued uses are written together every
 * `intervalMs` and at stop, never on a request's path. A failed write is logged and
 * dropped (the next use a minute later writes again).
 */
import type { Logger } from "../../lib/logger.js";
import type { RequestInfo } from "../../lib/request-info.js";
import type { Db } from "../../store/db.js";
import { touchApiKeysLastUsed, type ApiKeyUse } from "../../store/api-keys.js";
import { boundedUse } from "./values.js";

/** `last_used_at` is written at most this often per key. */
export const LAST_USED_GRANULARITY_MS = 60_000;

/** The queue of uses to write. */
export interface LastUses {
  /** Queues key `id`'s use at `nowMs` (the latest one per key wins). */
  queue(id: string, nowMs: number, request: RequestInfo | undefined): void;
  /** Writes the queued uses now (tests, shutdown). */
  flush(): Promise<void>;
  /** Writes the queued uses every `intervalMs` until stopped. */
  start(intervalMs: number): void;
  /** Stops the timer and writes what is queued. */
  stop(): Promise<void>;
}

/** A queue of API-key uses written to `db`. */
export function createLastUses(db: Db, logger: Logger): LastUses {
  /** key id -> last use to write. */
  const pending = new Map<string, ApiKeyUse>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  async function flush(): Promise<void> {
    while (flushing) await flushing;
    if (pending.size === 0) return;
    const uses = [...pending.values()];
    pending.clear();
    flushing = touchApiKeysLastUsed(db.kysely, uses)
      .catch((e: unknown) => logger.warn({ err: { message: (e as Error).message }, keys: uses.length }, "api key last_used_at not written"))
      .finally(() => {
        flushing = undefined;
      });
    await flushing;
  }

  return {
    queue(id, nowMs, request) {
      pending.set(id, { id, at: new Date(nowMs), ...boundedUse(request) });
    },
    flush,
    start(intervalMs) {
      timer = setInterval(() => void flush(), intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}
