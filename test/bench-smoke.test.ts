/**
 * A short run of the benchmark harness (bench/): every scenario against real
 * processes for about two seconds, 1,000 keys. Asserts only that each scenario
 * produced numbers with zero errors; the figures themselves come from `npm run bench`.
 */
import { describe, expect, inject, it } from "vitest";
import { benchOptions, runBench } from "../bench/scenarios.js";

describe("benchmark harness (smoke)", () => {
  it("runs every scenario with numbers and zero errors", async () => {
    process.env.BENCH_DATABASE_ADMIN_URL = inject("pgAdminUrl");
    const lines: string[] = [];
    const results = await runBench({ ...benchOptions(true, {}), installSignals: false, log: (l) => lines.push(l) });
    const ids = results.rows.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining(["1", "1i", "1w", "2", "3", "4", "5", "5r", "5a", "5b", "6", "6L", "6r", "6rL", "7", "8", "8a"]));
    for (const r of results.rows) {
      expect(r.rps, `${r.id} ${r.scenario}: ${r.note ?? ""}`).not.toBeNull();
      expect(r.requests, `${r.id} ${r.scenario}`).toBeGreaterThan(0);
      expect(r.errors, `${r.id} ${r.scenario}`).toBe(0);
      expect(r.p99Ms, `${r.id} ${r.scenario}`).toBeGreaterThan(0);
    }
    expect(results.revocation?.crossInstanceMs.every((ms) => Number.isFinite(ms))).toBe(true);
    const pooled = results.revocationPooler;
    expect(pooled && "listenUrlMs" in pooled && [...pooled.listenUrlMs, ...pooled.failSafeMs].every((ms) => Number.isFinite(ms)), JSON.stringify(pooled)).toBe(
      true,
    );
    // 1s: one process switched between info and warn (SIGUSR2), neighbouring intervals compared.
    expect(results.logging.switched?.ratios.length, JSON.stringify(results.logging.switched)).toBeGreaterThan(0);
    expect(results.targets.length).toBeGreaterThan(0);
  }, 180_000);
});
