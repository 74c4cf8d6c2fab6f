/**
 * The server's one bounded cache (lib/bounded-cache.ts): never more than its maximum,
 * second-chance eviction (an entry read since its last chance survives the next
 * eviction, an unread one goes, oldest first), a hit that does not reorder the map, and
 * expiry.
 */
import { describe, expect, it } from "vitest";
import { BoundedCache } from "../../packages/server/src/lib/bounded-cache.js";

const keysOf = (c: BoundedCache<string, number>, names: string[]) => names.filter((k) => c.peek(k) !== undefined);

describe("BoundedCache", () => {
  it("holds at most maxEntries, dropping the oldest unread entry first", () => {
    const c = new BoundedCache<string, number>({ maxEntries: 3 });
    c.set("a", 1);
    c.set("b", 2);
    c.set("c", 3);
    c.set("d", 4);
    expect(c.size).toBe(3);
    expect(keysOf(c, ["a", "b", "c", "d"])).toEqual(["b", "c", "d"]);
  });

  it("gives an entry read since its last chance a second chance", () => {
    const c = new BoundedCache<string, number>({ maxEntries: 3 });
    c.set("a", 1);
    c.set("b", 2);
    c.set("c", 3);
    expect(c.get("a")).toBe(1);
    c.set("d", 4);
    // a was read: b, the oldest unread one, goes.
    expect(keysOf(c, ["a", "b", "c", "d"])).toEqual(["a", "c", "d"]);
    // a went to the young end with its mark cleared: c and then d, older and unread, go first.
    c.set("e", 5);
    expect(keysOf(c, ["a", "c", "d", "e"])).toEqual(["a", "d", "e"]);
    c.set("f", 6);
    expect(keysOf(c, ["a", "d", "e", "f"])).toEqual(["a", "e", "f"]);
    // Unread since its chance, a is now the oldest and goes.
    c.set("g", 7);
    expect(keysOf(c, ["a", "e", "f", "g"])).toEqual(["e", "f", "g"]);
  });

  it("keeps a hot entry through a flood of new keys, and drops a cold one", () => {
    const c = new BoundedCache<string, number>({ maxEntries: 100 });
    c.set("hot", 0);
    c.set("cold", 0);
    for (let i = 0; i < 10_000; i++) {
      expect(c.get("hot")).toBe(0);
      c.set(`k${i}`, i);
      expect(c.size).toBeLessThanOrEqual(100);
    }
    expect(c.peek("hot")).toBe(0);
    expect(c.peek("cold")).toBeUndefined();
    expect(c.size).toBe(100);
  });

  it("drops the oldest entry when every entry was read (one full pass, then the first again), never the one just stored", () => {
    const c = new BoundedCache<string, number>({ maxEntries: 3 });
    for (const k of ["a", "b", "c"]) c.set(k, 0);
    for (const k of ["a", "b", "c"]) c.get(k);
    c.set("d", 0);
    expect(keysOf(c, ["a", "b", "c", "d"])).toEqual(["b", "c", "d"]);
    const one = new BoundedCache<string, number>({ maxEntries: 1 });
    one.set("x", 1);
    one.get("x");
    one.set("y", 2);
    expect([one.peek("x"), one.peek("y"), one.size]).toEqual([undefined, 2, 1]);
  });

  it("expires entries on its clock and forgets them when read", () => {
    let t = 0;
    const c = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 100, now: () => t });
    c.set("a", 1);
    c.set("b", 2, 50);
    t = 49;
    expect([c.get("a"), c.get("b")]).toEqual([1, 2]);
    t = 50;
    expect(c.get("b")).toBeUndefined();
    expect(c.size).toBe(1);
    t = 100;
    expect(c.get("a")).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it("replaces a value stored again, and deletes by key and by predicate", () => {
    const c = new BoundedCache<string, number>({ maxEntries: 10 });
    c.set("a", 1);
    c.set("a", 2);
    expect([c.get("a"), c.size]).toEqual([2, 1]);
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i);
    expect(c.deleteWhere((v) => v % 2 === 0)).toBe(4); // a=2, k0, k2, k4
    expect(c.delete("k1")).toBe(true);
    expect(keysOf(c, ["a", "k0", "k1", "k2", "k3", "k4"])).toEqual(["k3"]);
    c.clear();
    expect(c.size).toBe(0);
  });
});
