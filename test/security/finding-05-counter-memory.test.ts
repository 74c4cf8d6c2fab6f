/**
 * Finding 5 (issue 13): rate-limit counters could exhaust memory. Keys embedded the
 * normalized email, whose length was checked before NFKC (U+FDFA grows eighteen-fold),
 * and expired counters were swept only at 100,000 keys. Now emails are validated after
 * normalization, counters are keyed by a fixed-size digest, swept on a timer, and the
 * store is capped by count and bytes.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useTessera } from "../harness.js";
import { createMemoryCounterStore } from "../../packages/server/src/abuse/limiter.js";

const PROBE = path.join(import.meta.dirname, "fixtures", "counter-heap-probe.ts");

/** Runs the heap probe in a child process with --expose-gc; resolves with its JSON line. */
function runProbe(databaseUrl: string, signUps: number, logins: number): Promise<{ growth: number; codes: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", PROBE, databaseUrl, String(signUps), String(logins)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`probe exited ${code}: ${err || out}`));
      resolve(JSON.parse(line) as { growth: number; codes: Record<string, number> });
    });
  });
}

describe("finding 5", () => {
  const t = useTessera({ server: false });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("finding 5: distinct oversized emails sent to SignUp and Login leave the server's heap bounded", { timeout: 120_000 }, async () => {
    // 400 sign-ups and 40 logins, each with a distinct email of 900 U+FDFA (16,200
    // characters after NFKC): before the fix each kept ~32 KB of counter key per limit.
    const result = await runProbe(t.database.env.DATABASE_URL!, 400, 40);
    expect(result.codes).toEqual({ invalid_argument: 400, unauthenticated: 40 });
    expect(result.growth, `heap grew by ${(result.growth / 1048576).toFixed(1)} MiB`).toBeLessThan(6 * 1048576);
  });

  it("finding 5: the counter store keys by a fixed-size digest, stays within its key and byte caps, and sweeps expired counters on a timer", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    let now = 1_000_000;
    const store = createMemoryCounterStore({ now: () => now, maxKeys: 500, maxBytes: 64 * 1024, sweepIntervalMs: 10_000 });
    try {
      // Huge keys cost the same as small ones.
      await store.hit("x".repeat(100_000), 60_000);
      const one = store.stats();
      expect(one.keys).toBe(1);
      expect(one.bytes).toBeLessThan(512);
      // A flood of distinct keys never takes more than the caps.
      for (let i = 0; i < 5000; i++) {
        await store.hit(`flood:${i}:${"\uFDFA".repeat(200)}`, 60_000);
        const s = store.stats();
        if (s.keys > 500 || s.bytes > 64 * 1024) throw new Error(`over the caps after ${i + 1} keys: ${JSON.stringify(s)}`);
      }
      // The newest counters are kept (the oldest go first) and still count.
      expect((await store.hit(`flood:4999:${"\uFDFA".repeat(200)}`, 60_000)).count).toBe(2);
      // Expired counters go on the timer, without waiting for the store to fill.
      now += 61_000;
      await store.hit("fresh", 120_000);
      vi.advanceTimersByTime(10_000);
      expect(store.stats().keys).toBe(1);
    } finally {
      await store.close();
    }
    // close() stops the timer.
    expect(vi.getTimerCount()).toBe(0);
  });
});
