/**
 * Notices when this process's event loop stopped running for a while: the process was
 * frozen (SIGSTOP, a paused VM or container) or a synchronous task blocked it. Data that
 * arrived meanwhile (a NOTIFY, say) may still sit unread when the first callbacks run:
 * after a stop signal epoll_wait returns EINTR, so timers and other sockets can be served
 * before it. Whoever trusts "I would have heard of it" asks `paused()` and `resumedAt()`.
 */

/** How often the loop marks that it runs. */
const TICK_MS = 100;
/** A longer gap between marks counts as a pause. */
const MAX_LOOP_GAP_MS = 500;

/** The loop's marks; `start` before use, `stop` at shutdown. */
export interface LoopGaps {
  start(): void;
  stop(): void;
  /** True while the latest mark is older than MAX_LOOP_GAP_MS (the loop has not caught up yet). */
  paused(): boolean;
  /** performance.now() when the loop last came back from a pause (-Infinity: never). */
  resumedAt(): number;
}

/** Builds the marks; `onResume` runs when the loop comes back from a pause. */
export function createLoopGaps(onResume: () => void): LoopGaps {
  let tickAt = performance.now();
  let resumedAt = Number.NEGATIVE_INFINITY;
  let ticker: NodeJS.Timeout | undefined;
  return {
    start() {
      tickAt = performance.now();
      ticker ??= setInterval(() => {
        const now = performance.now();
        if (now - tickAt > MAX_LOOP_GAP_MS) {
          resumedAt = now;
          onResume();
        }
        tickAt = now;
      }, TICK_MS);
      ticker.unref();
    },
    stop() {
      if (ticker) clearInterval(ticker);
      ticker = undefined;
    },
    paused: () => performance.now() - tickAt > MAX_LOOP_GAP_MS,
    resumedAt: () => resumedAt,
  };
}
