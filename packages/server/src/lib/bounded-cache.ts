/**
 * The one bounded in-process cache: a Map with a maximum number of entries and an
 * optional expiry per entry. Every cache of the server (verified tokens, API keys, user
 * status, verifier routes) is one of these, so none can grow without bound whatever a
 * stranger sends.
 *
 * Eviction is second-chance (CLOCK), which approximates least-recently-used without
 * touching the Map on a hit: `get` only marks the entry as used. When the cache is full,
 * entries are examined oldest first; a used one gets its mark cleared and goes to the
 * young end (a second chance), the first unused one is dropped. A hit is then a lookup
 * and a write of one field instead of a delete and a re-insert (on the API-key path, a
 * few µs a request: `npm run bench`, scenario 12m); an eviction clears at most every
 * mark once, so it costs O(1) amortized.
 */

/** Options of a BoundedCache. */
export interface BoundedCacheOptions {
  /** Most entries; past it the oldest entry not used since its last chance is dropped. */
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
  /** Read since it was stored or last given a second chance. */
  used: boolean;
}

/** A bounded map with second-chance eviction and optional expiry. */
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

  /** The value under `key` (marked as used: the next eviction passes over it once), or undefined when absent or expired. */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (slot.until <= this.#now()) {
      this.#map.delete(key);
      return undefined;
    }
    slot.used = true;
    return slot.value;
  }

  /** The value under `key` even when expired, without marking it as used. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  /** Stores `value` under `key` until `untilMs` (absolute, on the cache's clock) or for the default lifetime. */
  set(key: K, value: V, untilMs?: number): void {
    this.#map.delete(key);
    const until = untilMs ?? (this.#ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#now() + this.#ttlMs);
    this.#map.set(key, { value, until, used: false });
    if (this.#map.size > this.#max) this.#evictOne(key);
  }

  /** Drops the oldest entry other than `kept` that was not used since its last chance, giving used ones their second chance. */
  #evictOne(kept: K): void {
    // A Map iterates in insertion order and visits entries re-inserted meanwhile, so after
    // one pass that cleared every mark the first entry examined again is dropped.
    for (const [k, slot] of this.#map) {
      if (k === kept) continue;
      if (slot.used) {
        slot.used = false;
        this.#map.delete(k);
        this.#map.set(k, slot);
        continue;
      }
      this.#map.delete(k);
      return;
    }
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
