/**
 * A small bounded LRU with per-entry expiry, for introspection results and verified
 * tokens.
 */

/** A bounded map whose entries expire at their own time. */
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** The live value under `key`, refreshed as most recently used. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (e.until <= this.now()) return undefined;
    this.map.set(key, e);
    return e.value;
  }

  /** Stores `value` until `until` (ms), evicting the least recently used entry when full. */
  set(key: string, value: V, until: number): void {
    this.map.delete(key);
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
    this.map.set(key, { value, until });
  }

  /** Moves the expiry of `key` to `until` when it still holds `value`. */
  extendIf(key: string, value: V, until: number): void {
    const e = this.map.get(key);
    if (e?.value === value) e.until = until;
  }

  /** Removes `key` when it still holds `value`. */
  deleteIf(key: string, value: V): void {
    if (this.map.get(key)?.value === value) this.map.delete(key);
  }

  /** Removes `key`. */
  delete(key: string): void {
    this.map.delete(key);
  }

  /** Removes every entry whose value `drop` selects. */
  deleteWhere(drop: (value: V) => boolean): void {
    for (const [k, e] of this.map) if (drop(e.value)) this.map.delete(k);
  }

  /** Removes everything. */
  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
