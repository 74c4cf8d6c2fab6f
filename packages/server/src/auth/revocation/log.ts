/**
 * The one revocation broadcast (issue 16). Every revocation is a row of the revocation
 * log (`store/revocation-log.ts`), written in the transaction that revokes; then
 * `published(sequence)` applies it here at once and NOTIFYs every instance on
 * `REVOCATION_CHANNEL` with the sequence. Each instance reads the log after the last
 * sequence it applied and hands every event to its appliers (the API-key cache, the
 * token verifier), in order. A missed notification is healed by the next one, by the catch-up
 * after the listener reconnects, and by a poll of the log (5 s; 500 ms while the broadcast is unproven).
 *
 * `cachesTrusted()` says whether this instance may answer revocable credentials from
 * memory: only while the broadcast is proven (self-probe, see probe.ts) and nothing
 * announced is left unapplied, or while the log was read within STALE_BOUND_MS, and never
 * right after the process was frozen or blocked (lib/loop-gaps.ts). Otherwise the
 * verifiers ask the database per request: never silently stale.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Deps, Feature } from "../../deps.js";
import { deleteStaleParticipants, pruneRevocations, readRevocations, reportParticipant, revocationHead } from "../../store/revocation-log.js";
import type { RevocationEventRow } from "../../store/schema.js";
import { createBroadcastProbe, type BroadcastProbe } from "./probe.js";
import { createLoopGaps } from "../../lib/loop-gaps.js";

/** NOTIFY channel of the revocation log: payload a sequence number, or a probe. */
export const REVOCATION_CHANNEL = "tessera_revocation";
/** How stale this instance's view of the log may be while its caches are trusted. */
const STALE_BOUND_MS = 1000;
/** History kept for subscribers that resume (WatchRevocations). */
const HISTORY_MS = 24 * 3600_000;
/** A participant (instance or subscriber) is live when seen within this. */
export const LIVE_WINDOW_MS = 30_000;

const PAGE = 1000;

/** Applies one event to a cache; `flush` forgets everything (history lost). */
export interface RevocationApplier {
  apply(event: RevocationEventRow): void;
  flush(): void;
}

/** What `/health` says about the broadcast. */
interface BroadcastStatus {
  ok: boolean;
  /** Why not, when not ok. */
  reason?: string;
}

export interface RevocationLog extends Feature {
  /** This instance's id in GetRevocationStatus. */
  readonly instanceId: string;
  /** Adds a cache to keep in step (before start). */
  addApplier(applier: RevocationApplier): void;
  /** After a revocation committed with this sequence (0: nothing): applies it here, then tells every instance. Never throws. */
  published(sequence: number): Promise<void>;
  /** The newest sequence applied here. */
  applied(): number;
  /** True while cached answers about revocable credentials may be used (see the file comment). */
  cachesTrusted(): boolean;
  /** The broadcast's state for /health. */
  status(): BroadcastStatus;
  /** Resolves at the next applied change, or after `ms`, or when `signal` aborts. */
  waitForChange(ms: number, signal?: AbortSignal): Promise<void>;
  /** Reads the log from the database now (tests, the fail-safe). */
  catchUp(): Promise<void>;
}

export interface RevocationLogOptions {
  /** Poll interval while the broadcast works (ms). */
  pollMs?: number;
  /** Poll interval while it does not (ms); at most STALE_BOUND_MS / 2 to stay within the bound. */
  failSafePollMs?: number;
}

/** Builds the revocation log of this instance. */
export function createRevocationLog(deps: Deps, opts: RevocationLogOptions = {}): RevocationLog {
  const { db, logger, clock, config, metrics } = deps;
  const pollMs = opts.pollMs ?? 5000;
  const failSafePollMs = opts.failSafePollMs ?? 500;
  const instanceId = randomUUID();
  const instanceName = `${hostname()} pid ${process.pid} (${instanceId.slice(0, 8)})`;
  const appliers: RevocationApplier[] = [];
  let applied = 0;
  /** The newest sequence announced by a notification. */
  let announced = 0;
  /** performance.now() when a read of the log started that then found nothing newer. */
  let syncedAt = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let pollTimer: NodeJS.Timeout | undefined;
  let housekeeping: NodeJS.Timeout | undefined;
  // Back from a freeze: read the log (what arrived meanwhile may be unread).
  const loop = createLoopGaps(() => catchUpQuietly(false));
  let unlisten: (() => void) | undefined;
  let waiters: Array<() => void> = [];
  let reportedApplied = -1;

  const probe: BroadcastProbe = createBroadcastProbe({
    db,
    logger,
    channel: REVOCATION_CHANNEL,
    instanceId,
    intervalMs: config.revocationProbeIntervalMs,
    listenUrlSet: db.kind === "postgres" && config.database.kind === "postgres" && config.database.listenUrl !== undefined,
    onChange: () => schedulePoll(),
  });

  function wake(): void {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  }

  function dispatch(run: (a: RevocationApplier) => void): void {
    for (const a of appliers) {
      try {
        run(a);
      } catch (e) {
        logger.error({ err: { message: (e as Error).message } }, "revocation applier failed");
      }
    }
  }

  /** Reads and applies the events after `applied`; `checkHead` also detects lost history (polls, reconnects). */
  async function readOnce(checkHead: boolean): Promise<void> {
    const started = performance.now();
    const before = applied;
    if (checkHead) {
      const { head, prunedThrough } = await revocationHead(db.kysely);
      if (applied < prunedThrough || applied > head) {
        // History this instance needed is gone (or the log was reset): forget everything cached.
        if (applied !== 0 || head !== 0) dispatch((a) => a.flush());
        applied = head;
      }
    }
    for (;;) {
      const rows = await readRevocations(db.kysely, applied, PAGE);
      for (const row of rows) {
        dispatch((a) => a.apply(row));
        applied = row.sequence;
        metrics.revocationReceived((Date.now() - row.created_at.getTime()) / 1000);
      }
      if (rows.length < PAGE) break;
    }
    syncedAt = started;
    wake();
    if (applied !== before) reportSoon();
  }

  /** Tells GetRevocationStatus how far this instance got, soon after it moved (coalesced). */
  let reportTimer: NodeJS.Timeout | undefined;
  function reportSoon(): void {
    if (reportTimer || stopped) return;
    reportTimer = setTimeout(() => {
      reportTimer = undefined;
      report().catch(() => {});
    }, 50);
    reportTimer.unref();
  }

  /** One catch-up at a time; a request during one runs another after it. */
  let checkHeadNext = false;
  function catchUp(checkHead = true): Promise<void> {
    checkHeadNext ||= checkHead;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          const full = checkHeadNext;
          checkHeadNext = false;
          await readOnce(full);
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function catchUpQuietly(checkHead: boolean): void {
    catchUp(checkHead).catch((e: Error) => logger.warn({ err: { message: e.message } }, "revocation log not read; caches are not trusted until it is"));
  }

  function onNotification(payload: string): void {
    if (probe.receive(payload)) return;
    if (payload === "*") {
      catchUpQuietly(true); // the listener reconnected: read what was missed
      return;
    }
    const seq = Number(payload);
    if (Number.isSafeInteger(seq) && seq > applied) {
      announced = Math.max(announced, seq);
      catchUpQuietly(false);
    }
  }

  function schedulePoll(): void {
    if (stopped) return;
    if (pollTimer) clearTimeout(pollTimer);
    const ms = probe.healthy() && db.listenerConnected() ? pollMs : failSafePollMs;
    pollTimer = setTimeout(() => {
      pollTimer = undefined;
      catchUp()
        .catch(() => {})
        .finally(schedulePoll);
    }, ms);
    pollTimer.unref();
  }

  async function report(): Promise<void> {
    await reportParticipant(db.kysely, { id: instanceId, kind: "instance", name: instanceName, applied, now: clock() });
    reportedApplied = applied;
  }

  function housekeep(): void {
    const now = clock().getTime();
    report().catch(() => {});
    // Rare work, done by whichever instance gets there; harmless when several do.
    if (Math.random() < 0.1) {
      pruneRevocations(db.kysely, new Date(now - HISTORY_MS)).catch((e: Error) => logger.warn({ err: { message: e.message } }, "revocation log not pruned"));
      deleteStaleParticipants(db.kysely, new Date(now - HISTORY_MS)).catch(() => {});
    }
  }

  return {
    instanceId,
    addApplier: (a) => appliers.push(a),
    async start() {
      stopped = false;
      applied = (await revocationHead(db.kysely)).head;
      syncedAt = performance.now();
      unlisten = await db.listen(REVOCATION_CHANNEL, onNotification);
      await probe.start();
      await report().catch(() => {});
      housekeeping = setInterval(housekeep, 5000);
      housekeeping.unref();
      loop.start();
      schedulePoll();
    },
    async stop() {
      stopped = true;
      probe.stop();
      unlisten?.();
      if (pollTimer) clearTimeout(pollTimer);
      if (housekeeping) clearInterval(housekeeping);
      loop.stop();
      if (reportTimer) clearTimeout(reportTimer);
      wake();
      await running?.catch(() => {});
    },
    async published(sequence) {
      if (sequence <= 0) return;
      announced = Math.max(announced, sequence);
      metrics.revocationBroadcastSent();
      // Told first (the other instances start reading), applied here at the same time.
      const told = db
        .notify(REVOCATION_CHANNEL, String(sequence))
        .catch((e: Error) =>
          logger.warn({ err: { message: e.message } }, "revocation not broadcast; other instances read it from the log within their poll interval"),
        );
      try {
        await catchUp(false);
      } catch (e) {
        logger.warn({ err: { message: (e as Error).message } }, "revocation not applied here yet; caches are not trusted until it is");
      }
      await Promise.all([told, applied !== reportedApplied ? report().catch(() => {}) : undefined]);
    },
    applied: () => applied,
    cachesTrusted() {
      const now = performance.now();
      // Frozen or blocked until just now (the mark is old), or back from that and the log
      // not read since: notifications that arrived meanwhile may be unread.
      if (loop.paused() || syncedAt < loop.resumedAt()) return false;
      const fresh = now - syncedAt <= STALE_BOUND_MS;
      if (fresh) return true;
      return !stopped && probe.healthy() && db.listenerConnected() && announced <= applied;
    },
    status: () => probe.status(),
    waitForChange(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted || stopped) return resolve();
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
        waiters.push(done);
      });
    },
    catchUp,
  };
}
