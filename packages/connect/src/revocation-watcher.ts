/**
 * The subscription to Tessera's RevocationService.WatchRevocations: one server stream,
 * reopened with backoff after any failure and resumed from the last applied sequence
 * (so no event is lost), events handed to `apply` in order, applied sequences
 * acknowledged (AckRevocations), and a clock of freshness: the stream counts as live
 * while a message (events or the ≥ 1/s heartbeat) arrived within `maxStalenessMs`.
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { RevocationService, type RevocationEvent } from "@tessera/sdk/proto";

/** What the watcher needs. */
export interface RevocationWatcherOptions {
  transport: Transport;
  /** The bearer token allowed to watch (an instance admin's token, or an API key scoped to `tessera.v1.RevocationService/*`). */
  credential: () => string | Promise<string>;
  subscriberName: string;
  maxStalenessMs: number;
  now: () => number;
  /** Applies one event (before the sequence moves past it). */
  apply(event: RevocationEvent): void;
  /** Forget everything cached: Tessera no longer has the history after our cursor. */
  reset(): void;
  /** Where failures of the stream are reported (default: nowhere). */
  log?: (message: string) => void;
}

/** What the watcher knows of itself, for health checks and tests. */
export interface RevocationStreamStatus {
  /** A message arrived within `maxStalenessMs`. */
  live: boolean;
  /** Every event up to this sequence has been applied. */
  appliedSequence: bigint;
  /** ms since the last message (Infinity before the first). */
  sinceLastMessageMs: number;
  /** Times the stream was (re)opened and answered. */
  connects: number;
  /** The last failure of the stream, if any since it last answered. */
  lastError?: string;
}

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** Acknowledged again at least this often, so GetRevocationStatus sees the subscriber alive. */
const ACK_EVERY_MS = 10_000;
/** How often the event loop marks that it runs. */
const TICK_MS = 100;
/**
 * A longer gap between marks means the process was frozen (SIGSTOP, a paused container)
 * or blocked: events may sit unread in the stream's socket, so the stream is not live
 * until a message arrives after the wake.
 */
const MAX_LOOP_GAP_MS = 500;

/** The subscription; `start()` runs it until `close()`. */
export class RevocationWatcher {
  private cursor = 0n;
  private acked = -1n;
  private ackedAt = Number.NEGATIVE_INFINITY;
  private acking = false;
  private subscriberId = "";
  private lastMessageAt = Number.NEGATIVE_INFINITY;
  /** performance.now() of the latest message (lastMessageAt is on the injectable clock). */
  private lastMessageAtMark = Number.NEGATIVE_INFINITY;
  /** performance.now() at the event loop's latest mark, and when it last came back from a gap. */
  private tickAt = performance.now();
  private resumedAt = Number.NEGATIVE_INFINITY;
  private ticker: ReturnType<typeof setInterval> | undefined;
  /** Since when (ms) every revocation reaches this watcher: answers obtained later may be kept. */
  private covered: number | undefined;
  private connects = 0;
  private lastError: string | undefined;
  private closed = false;
  private readonly stop = new AbortController();
  private readonly client;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: RevocationWatcherOptions) {
    this.client = createClient(RevocationService, o.transport);
  }

  /** Opens the stream (once). */
  start(): void {
    if (!this.ticker) {
      this.tickAt = performance.now();
      this.ticker = setInterval(() => {
        const now = performance.now();
        if (now - this.tickAt > MAX_LOOP_GAP_MS) this.resumedAt = now;
        this.tickAt = now;
      }, TICK_MS);
      unref(this.ticker);
    }
    this.loop ??= this.run();
  }

  /**
   * Whether a message arrived within `maxStalenessMs`, and since the process last woke
   * from a freeze (a stop signal can let timers and requests run before the events that
   * arrived meanwhile are read).
   */
  live(): boolean {
    const now = performance.now();
    if (now - this.tickAt > MAX_LOOP_GAP_MS || this.lastMessageAtMark < this.resumedAt) return false;
    return this.o.now() - this.lastMessageAt <= this.o.maxStalenessMs;
  }

  /**
   * Since when (ms, this process's clock) the stream has delivered every revocation:
   * an answer obtained from Tessera at or after it can be kept until a revocation
   * evicts it. Undefined until the stream first answers; moves forward on `reset`.
   */
  coveredSince(): number | undefined {
    return this.covered;
  }

  /** For health checks and tests. */
  status(): RevocationStreamStatus {
    return {
      live: this.live(),
      appliedSequence: this.cursor,
      sinceLastMessageMs: this.o.now() - this.lastMessageAt,
      connects: this.connects,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Ends the stream; resolves when the loop has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    this.stop.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const answered = await this.once();
      if (this.closed) break;
      failures = answered ? 0 : failures + 1;
      const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** failures);
      await sleep(wait / 2 + Math.random() * (wait / 2), this.stop.signal);
    }
  }

  /** One stream, until it ends or fails; true when it delivered at least one message. */
  private async once(): Promise<boolean> {
    const streamAbort = new AbortController();
    const onStop = () => streamAbort.abort();
    this.stop.signal.addEventListener("abort", onStop);
    let answered = false;
    let lastHere = this.o.now();
    // A stream that stays silent past the staleness bound is given up and reopened.
    const watchdog = setInterval(() => {
      if (this.o.now() - lastHere > Math.max(this.o.maxStalenessMs, 2_000)) streamAbort.abort();
    }, 500);
    unref(watchdog);
    try {
      const token = await this.o.credential();
      const stream = this.client.watchRevocations(
        { afterSequence: this.cursor, subscriberName: this.o.subscriberName },
        { signal: streamAbort.signal, headers: { authorization: `Bearer ${token}` } },
      );
      for await (const res of stream) {
        lastHere = this.o.now();
        if (!answered) {
          answered = true;
          this.connects++;
          this.lastError = undefined;
        }
        if (res.reset) {
          this.o.reset();
          this.covered = this.o.now();
        }
        for (const ev of res.events) {
          if (ev.sequence <= this.cursor && !res.reset) continue; // seen before a reconnect
          this.o.apply(ev);
          if (ev.sequence > this.cursor) this.cursor = ev.sequence;
        }
        // Subscribed "from now": the head is where we start.
        if (this.cursor === 0n && res.headSequence > 0n && res.events.length === 0) this.cursor = res.headSequence;
        this.covered ??= this.o.now();
        this.subscriberId = res.subscriberId || this.subscriberId;
        this.lastMessageAt = this.o.now();
        this.lastMessageAtMark = performance.now();
        this.ack();
      }
      if (!this.closed) this.lastError = "stream ended";
    } catch (e) {
      if (!this.closed) {
        const ce = ConnectError.from(e);
        this.lastError = `${Code[ce.code] ?? ce.code}: ${ce.rawMessage}`;
        this.o.log?.(`tessera revocation stream failed (${this.lastError}); reconnecting`);
      }
    } finally {
      clearInterval(watchdog);
      this.stop.signal.removeEventListener("abort", onStop);
    }
    return answered;
  }

  /** Acknowledges the applied sequence when it moved (or every ACK_EVERY_MS); one call at a time. */
  private ack(): void {
    if (this.acking || !this.subscriberId) return;
    if (this.cursor === this.acked && this.o.now() - this.ackedAt < ACK_EVERY_MS) return;
    const seq = this.cursor;
    this.acking = true;
    void (async () => {
      try {
        const token = await this.o.credential();
        await this.client.ackRevocations(
          { subscriberId: this.subscriberId, appliedSequence: seq },
          { headers: { authorization: `Bearer ${token}` }, signal: this.stop.signal, timeoutMs: 5_000 },
        );
        this.acked = seq;
        this.ackedAt = this.o.now();
        this.acking = false;
        if (!this.closed && this.cursor !== this.acked) this.ack();
      } catch (e) {
        // Retried with the next message (a heartbeat comes every second).
        this.acking = false;
        if (!this.closed) this.o.log?.(`tessera AckRevocations failed (${Code[ConnectError.from(e).code]}); will retry`);
      }
    })();
  }
}

function unref(t: ReturnType<typeof setInterval>): void {
  (t as { unref?: () => void }).unref?.();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    unref(t);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
