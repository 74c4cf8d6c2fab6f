/**
 * The one bounded in-process cache: a Map kept in recency order (least recently used
 * first) with a maximum number of entries and an optional expiry per entry. Every cache
 * of the server (verified tokens, API keys, user status, verifier routes) is one of these,
 * so none can grow without bound whatever a stranger sends.
 */

/** Options of a BoundedCache. */
export interface BoundedCacheOptions {
  /** Most entries; past it the least recently used entry is dropped. */
  maxEntries: number;
  /** Default lifetime of an entry, ms (none: entries live until evicted or deleted). */
  ttlMs?: number;
  /** The current time in ms for expiry (default `Date.now`); tests and injected clocks pass their own. */
  now?: () => number;
}

interface Slot<V> {
  value: V;
  /** Expiry (ms on the cache's clock), or Infinity. */
  until: number;
}

/** A bounded LRU map with optional expiry. */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, Slot<V>>();
  readonly #max: number;
  readonly #ttlMs: number | undefined;
  readonly #now: () => number;

  constructor(opts: BoundedCacheOptions) {
    if (!(opts.maxEntries >= 1)) throw new RangeError("maxEntries must be at least 1");
    this.#max = opts.maxEntries;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** The value under `key` (now the most recently used), or undefined when absent or expired. */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    this.#map.delete(key);
    if (slot.until <= this.#now()) return undefined;
    this.#map.set(key, slot);
    return slot.value;
  }

  /** The value under `key` even when expired, without touching its recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  /** Stores `value` under `key` until `untilMs` (absolute, on the cache's clock) or for the default lifetime. */
  set(key: K, value: V, untilMs?: number): void {
    this.#map.delete(key);
    const until = untilMs ?? (this.#ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#now() + this.#ttlMs);
    this.#map.set(key, { value, until });
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K);
  }

  /** Forgets `key`. */
  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  /** Forgets every entry whose value matches. */
  deleteWhere(match: (value: V, key: K) => boolean): number {
    let n = 0;
    for (const [k, slot] of this.#map) {
      if (match(slot.value, k)) {
        this.#map.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Forgets everything. */
  clear(): void {
    this.#map.clear();
  }

  /** Number of entries held (expired ones included until they are read or evicted). */
  get size(): number {
    return this.#map.size;
  }
}
