/**
 * Audit events for requests refused by an abuse limit, aggregated so a flood cannot
 * flood the audit table: at most one `ratelimit.exceeded.failure` per procedure, limit
 * and subject (client network, or email and network) per window of that limit, written
 * when the window ends (or at shutdown) and carrying how many requests were refused.
 * Pending windows are bounded: past MAX_PENDING subjects, further ones are counted
 * together in one event per procedure and limit (`subject: "overflow"`).
 */
import type { AuditWriter } from "../audit/writer.js";
import type { RequestInfo } from "../lib/request-info.js";
import { counterKeyDigest } from "./limiter.js";

/** One refused request. */
export interface Refusal {
  /** `Service/Method`. */
  procedure: string;
  /** What the limit counts by (`ip`, `email_and_ip`). */
  limitBy: string;
  limit: number;
  windowMs: number;
  /** What was counted (a network, an email and network); only its digest is kept. */
  subject: string;
  /** Milliseconds until the limit's window ends. */
  resetMs: number;
  request: RequestInfo;
  /** Small, secret-free facts about the subject (a network, an email tag). */
  metadata?: Record<string, string>;
}

/** Receives refused requests (the abuse interceptor reports them here). */
export interface RefusalRecorder {
  refused(r: Refusal): void;
}

/** The aggregating recorder, with its lifecycle. */
export interface RefusalAudit extends RefusalRecorder {
  /** Writes every pending event now and stops the timer (shutdown). */
  close(): void;
}

/** Most subjects with a pending event at once. */
const MAX_PENDING = 10_000;
const DEFAULT_TICK_MS = 2000;

interface Pending {
  refusal: Refusal;
  count: number;
  firstAt: number;
  endsAt: number;
  overflow: boolean;
}

/** Where aggregated refusals are written, and how often. */
export interface RefusalAuditOptions {
  audit: AuditWriter;
  /** The clock, in epoch milliseconds. */
  now?: () => number;
  /** How often ended windows are written (default 2 s). */
  tickMs?: number;
}

/** Builds the aggregating refusal recorder; its unref'd timer writes ended windows. */
export function createRefusalAudit(opts: RefusalAuditOptions): RefusalAudit {
  const now = opts.now ?? Date.now;
  const pending = new Map<string, Pending>();

  function write(p: Pending): void {
    const r = p.refusal;
    opts.audit.record({
      action: "ratelimit.exceeded.failure",
      request: p.overflow ? undefined : r.request,
      metadata: {
        procedure: r.procedure,
        limit_by: r.limitBy,
        limit: r.limit,
        window_s: r.windowMs / 1000,
        refused: p.count,
        first_refused_at: new Date(p.firstAt).toISOString(),
        ...(p.overflow ? { subject: "overflow" } : r.metadata),
      },
    });
  }
  function writeEnded(t: number): void {
    for (const [k, p] of pending) {
      if (p.endsAt > t) continue;
      pending.delete(k);
      write(p);
    }
  }
  const timer = setInterval(() => writeEnded(now()), opts.tickMs ?? DEFAULT_TICK_MS);
  timer.unref();

  return {
    refused(r) {
      const t = now();
      const limitKey = `${r.procedure}|${r.limitBy}|${r.windowMs}`;
      let key = `${limitKey}|${counterKeyDigest(r.subject)}`;
      let p = pending.get(key);
      if (p && p.endsAt <= t) {
        pending.delete(key);
        write(p);
        p = undefined;
      }
      let overflow = false;
      if (!p && pending.size >= MAX_PENDING) {
        key = `${limitKey}|*`;
        p = pending.get(key);
        overflow = true;
      }
      if (!p) {
        p = { refusal: r, count: 0, firstAt: t, endsAt: t + Math.max(r.resetMs, 1), overflow };
        pending.set(key, p);
      }
      p.count++;
    },
    close() {
      clearInterval(timer);
      for (const p of pending.values()) write(p);
      pending.clear();
    },
  };
}
