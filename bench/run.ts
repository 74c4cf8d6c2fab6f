/**
 * `npm run bench`: runs every scenario of issue 8 against real processes, prints one
 * table and the targets, and writes bench/results.json.
 *
 *   npm run bench                    10 s per scenario, 50 connections, 100,000 keys
 *   BENCH_DURATION_S=5 npm run bench shorter scenarios
 *   npm run bench -- --smoke         ~1 s per scenario, 1,000 keys (BENCH_SMOKE=1 too)
 *
 * BENCH_OUT overrides the results path (smoke runs write to the temp directory).
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./harness/root.js";
import { benchOptions } from "./options.js";
import { formatTable, formatTargets } from "./report.js";
import { runBench } from "./scenarios.js";

const smoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const out = process.env.BENCH_OUT ?? (smoke ? path.join(tmpdir(), "tessera-bench-smoke.json") : path.join(ROOT, "bench/results.json"));

try {
  const results = await runBench(benchOptions(smoke));
  const m = results.machine;
  process.stdout.write(
    `\nTessera benchmark: ${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}, ${m.date}, load average ${m.loadAvgStart} -> ${m.loadAvgEnd}\n` +
      `${results.settings.durationS} s per scenario, ${results.settings.connections} connections, pipelining 1, LOG_LEVEL=warn${smoke ? " (smoke)" : ""}\n\n` +
      `${formatTable(results)}\n\n${formatTargets(results)}\n`,
  );
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out) || out}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
}
