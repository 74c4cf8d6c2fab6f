/**
 * API-key authentication. A bearer starting with `tsk_` is checked for length, hashed
 * (SHA-256) and looked up in a bounded in-process cache keyed by the hash; on a miss, a
 * token whose shape and checksum are right (no I/O) is looked up in the database. Revocations (regenerate, delete,
 * a disabled machine user) purge the cache on every instance through the revocation log
 * (`auth/revocation/log.ts`, its `applier` here); while that log cannot vouch for this
 * instance's caches (`trusted()` false: the broadcast is down and the log could not be
 * read within a second), every request is checked against the database. Cached entries
 * also expire after a short TTL. Misses that arrive
 * together (in one turn of the event loop) share one `key_hash in (...)` query, so a
 * burst of unseen keys costs one round trip instead of one per key. `last_used_at` (with
 * the client IP and user agent) is written in the background, in batches (last-use.ts), at most once a
 * minute per key. During a rotation overlap the old value is found by its hash too
 * (values.ts) and cached with the overlap's end as its expiry.
 */
import { BoundedCache } from "../../lib/bounded-cache.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { compileScopes } from "@tessera/sdk";
import type { Deps, Feature } from "../../deps.js";
import { findApiKeyAuthByHashes, type ApiKeyAuthRow } from "../../store/api-keys.js";
import type { RevocationApplier } from "../revocation/log.js";
import { API_KEY_LENGTH, hashApiKey, isWellFormedApiKey, looksLikeApiKey } from "./format.js";
import { limitsOf } from "./limits.js";
import { createLastUses, LAST_USED_GRANULARITY_MS } from "./last-use.js";
import { indexByHash, viewForHash } from "./values.js";
import type { RequestInfo } from "../../lib/request-info.js";
import type { CredentialVerifier } from "../request/interceptor.js";
import type { Principal } from "../request/principal.js";

export interface ApiKeyAuthOptions {
  /** Most cached keys (positive entries). */
  maxEntries?: number;
  /** How long a cached key is trusted before the database is asked again. */
  ttlMs?: number;
  /** Most remembered unknown hashes (negative entries). */
  maxNegativeEntries?: number;
  /** How long an unknown hash is answered from memory. */
  negativeTtlMs?: number;
  /** How often pending last_used_at writes are flushed. */
  flushIntervalMs?: number;
  /** Most hashes looked up by one query. */
  maxBatch?: number;
  /** Whether cached entries may be used (the revocation log's `cachesTrusted`); always when absent. */
  trusted?: () => boolean;
  /** Why a key created by `createdById` is refused (AUTH_MODE=admin: the AdminModeGate); all accepted when absent. */
  refuseCreator?: (createdById: string | null) => string | undefined;
}

export interface ApiKeyAuth extends Feature {
  verifiers: CredentialVerifier[];
  /** Keeps the cache in step with the revocation log (every instance's revocations). */
  applier: RevocationApplier;
  /** Forgets entries in this instance only (`*`, a key hash or `user:<uuid>`), e.g. after re-enabling a user. */
  forget(target: string): void;
  /** Writes pending last_used_at updates now (tests, shutdown). */
  flushLastUsed(): Promise<void>;
  /** Number of cached keys (diagnostics, tests). */
  cacheSize(): number;
}

interface Entry {
  id: string;
  userId: string;
  expiresAtMs: number;
  disabled: boolean;
  createdById: string | null;
  principal: Principal;
  /** performance.now() when loaded from the database. */
  loadedAt: number;
  /** Clock ms of the last last_used_at recorded for this key (written or queued). */
  lastUsedMs: number;
}

interface Waiter {
  resolve(row: ApiKeyAuthRow | undefined): void;
  reject(e: unknown): void;
}

const HASH_RE = /^[0-9a-f]{64}$/;
const USER_TARGET_PREFIX = "user:";

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** Builds API-key verification. */
export function createApiKeyAuth(deps: Deps, opts: ApiKeyAuthOptions = {}): ApiKeyAuth {
  const maxEntries = opts.maxEntries ?? 10_000;
  const ttlMs = opts.ttlMs ?? 30_000;
  const maxNegative = opts.maxNegativeEntries ?? 10_000;
  const negativeTtlMs = opts.negativeTtlMs ?? 5_000;
  const flushIntervalMs = opts.flushIntervalMs ?? 2_000;
  const maxBatch = opts.maxBatch ?? 100;
  const { db, clock, logger } = deps;

  /** hash -> entry (bounded, second-chance eviction); an entry is trusted for `ttlMs` after loading. */
  const cache = new BoundedCache<string, Entry>({ maxEntries });
  /** Hashes found unknown, answered from memory for `negativeTtlMs`. */
  const negative = new BoundedCache<string, true>({ maxEntries: maxNegative, ttlMs: negativeTtlMs, now: () => performance.now() });
  /** Bumped by every invalidation: loads that started before it must not fill the cache. */
  let generation = 0;
  /** hash -> database lookup in flight, so a burst of requests with one cold key costs one query. */
  const inflight = new Map<string, Promise<Entry | undefined>>();
  const lastUses = createLastUses(db, logger);

  function purge(target: string): void {
    generation++;
    if (target === "*") {
      cache.clear();
      negative.clear();
      return;
    }
    if (target.startsWith(USER_TARGET_PREFIX)) {
      const userId = target.slice(USER_TARGET_PREFIX.length);
      cache.deleteWhere((e) => e.userId === userId);
      return;
    }
    if (HASH_RE.test(target)) {
      cache.delete(target);
      negative.delete(target);
    }
  }

  function toEntry(row: ApiKeyAuthRow, lastUsedMs: number): Entry {
    const expiresAt = new Date(row.expires_at);
    return {
      id: row.id,
      userId: row.user_id,
      expiresAtMs: expiresAt.getTime(),
      disabled: row.user_disabled_at !== null,
      createdById: row.created_by_id,
      principal: Object.freeze({
        kind: "api_key",
        userId: row.user_id,
        accountId: row.account_id,
        apiKeyId: row.id,
        expiresAt,
        scopes: compileScopes(row.scopes),
        limits: limitsOf(row),
        // Cached with the key: the interceptor compares it with each request's certificate.
        ...(row.client_cert_thumbprint !== null ? { clientCertThumbprint: row.client_cert_thumbprint } : {}),
      }),
      loadedAt: performance.now(),
      lastUsedMs,
    };
  }

  function remember(hash: string, row: ApiKeyAuthRow): Entry {
    const entry = toEntry(row, row.last_used_at ? new Date(row.last_used_at).getTime() : Number.NEGATIVE_INFINITY);
    const previous = cache.peek(hash);
    // Keep what this instance already queued, so reloads do not cause extra writes.
    if (previous) entry.lastUsedMs = Math.max(entry.lastUsedMs, previous.lastUsedMs);
    cache.set(hash, entry);
    return entry;
  }

  /** Hashes waiting for the next batched lookup, each with its waiters. */
  let batch: Map<string, Waiter[]> | undefined;

  /** The key with this hash, read together with the other misses of this turn of the event loop. */
  function read(hash: string): Promise<ApiKeyAuthRow | undefined> {
    return new Promise((resolve, reject) => {
      if (batch === undefined) {
        const mine = new Map<string, Waiter[]>();
        batch = mine;
        setImmediate(() => runBatch(mine));
      }
      const waiters = batch.get(hash);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(hash, [{ resolve, reject }]);
      // A full batch goes now; the next miss starts another.
      if (batch.size >= maxBatch) runBatch(batch);
    });
  }

  function runBatch(which: Map<string, Waiter[]>): void {
    if (batch === which) batch = undefined;
    if (which.size === 0) return; // already sent early, when it filled up
    const taken = new Map(which);
    which.clear(); // a full batch sent early is not sent again by its setImmediate
    findApiKeyAuthByHashes(db.kysely, [...taken.keys()]).then(
      (rows) => {
        const byHash = indexByHash(rows);
        for (const [hash, waiters] of taken) {
          const view = viewForHash(hash, byHash);
          for (const w of waiters) w.resolve(view);
        }
      },
      (e: unknown) => {
        for (const waiters of taken.values()) for (const w of waiters) w.reject(e);
      },
    );
  }

  function load(hash: string): Promise<Entry | undefined> {
    let p = inflight.get(hash);
    if (p === undefined) {
      p = loadFromDb(hash).finally(() => inflight.delete(hash));
      inflight.set(hash, p);
    }
    return p;
  }

  async function loadFromDb(hash: string): Promise<Entry | undefined> {
    if (negative.get(hash)) return undefined;
    const gen = generation;
    const row = await read(hash);
    if (gen !== generation) {
      // An invalidation raced with the read: answer from a fresh read, cache nothing stale.
      const gen2 = generation;
      const fresh = await read(hash);
      if (!fresh) return undefined;
      return gen2 === generation ? remember(hash, fresh) : transient(fresh);
    }
    if (!row) {
      negative.set(hash, true);
      return undefined;
    }
    return remember(hash, row);
  }

  /** An entry used for one request only (never cached, never marks a use). */
  function transient(row: ApiKeyAuthRow): Entry {
    return toEntry(row, Number.POSITIVE_INFINITY);
  }

  function noteUse(entry: Entry, nowMs: number, request: RequestInfo | undefined): void {
    if (nowMs - entry.lastUsedMs < LAST_USED_GRANULARITY_MS) return;
    entry.lastUsedMs = nowMs;
    lastUses.queue(entry.id, nowMs, request);
  }

  /** The key's principal if `entry` may be used now; throws Unauthenticated otherwise. */
  function admit(entry: Entry, request: RequestInfo | undefined): Principal {
    const nowMs = clock().getTime();
    if (nowMs >= entry.expiresAtMs) throw invalid("api key expired");
    if (entry.disabled) throw invalid("api key disabled");
    const refused = opts.refuseCreator?.(entry.createdById);
    if (refused) throw invalid(refused);
    noteUse(entry, nowMs, request);
    return entry.principal;
  }

  /** The answer for `token`: a value for a key in the cache, a promise for a lookup; throws Unauthenticated. */
  function check(token: string, request: RequestInfo | undefined): Principal | undefined | Promise<Principal> {
    if (!looksLikeApiKey(token)) return undefined;
    if (token.length !== API_KEY_LENGTH) throw invalid("invalid api key");
    const hash = hashApiKey(token);
    const entry = cache.get(hash);
    if (entry === undefined || performance.now() - entry.loadedAt >= ttlMs || (opts.trusted !== undefined && !opts.trusted())) {
      // A hit needs no checksum (the token hashed to a stored key's hash: it is that key);
      // a miss is looked up only when the token is well formed.
      if (entry === undefined && !isWellFormedApiKey(token)) throw invalid("invalid api key");
      deps.metrics.apiKeyCache("miss");
      return load(hash).then((loaded) => {
        if (loaded === undefined) throw invalid("invalid api key");
        return admit(loaded, request);
      });
    }
    deps.metrics.apiKeyCache("hit");
    return admit(entry, request);
  }

  const verifier: CredentialVerifier = {
    // A cached key is answered at once, as a value (no promise, no turn of the event loop);
    // refusals are rejected promises, never synchronous throws.
    verify(token, request) {
      try {
        return check(token, request);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };

  return {
    verifiers: [verifier],
    async start() {
      lastUses.start(flushIntervalMs);
    },
    stop: () => lastUses.stop(),
    applier: {
      apply(event) {
        if (event.kind === "api_key") purge(event.target);
        else if (event.kind === "user") purge(`${USER_TARGET_PREFIX}${event.target}`);
        else if (event.kind === "flush_all") purge("*");
      },
      flush: () => purge("*"),
    },
    forget: purge,
    flushLastUsed: () => lastUses.flush(),
    cacheSize: () => cache.size,
  };
}
