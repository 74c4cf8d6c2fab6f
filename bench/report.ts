/** The benchmark's two tables, as bench/run.ts prints them (Markdown). */
import type { BenchResults } from "./results.js";

/** The one table: scenario, requests/s, p50, p99, errors, server RSS, server CPU per request. */
export function formatTable(res: BenchResults): string {
  const head = ["#", "scenario", "req/s", "p50 ms", "p99 ms", "errors", "RSS MB", "CPU µs/req"];
  const f = (v: number | null, d: number) => (v === null || !Number.isFinite(v) ? "-" : v.toFixed(d));
  const body = res.rows.map((r) =>
    r.rps === null
      ? [r.id, r.scenario, r.note ?? "n/a", "", "", "", "", ""]
      : [
          r.id,
          r.scenario + (r.note ? ` [${r.note}]` : ""),
          f(r.rps, 0),
          f(r.p50Ms, 2),
          f(r.p99Ms, 2),
          String(r.errors),
          f(r.rssMb, 0),
          f(r.cpuUsPerReq ?? null, 0),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ")} |`;
  const sep = `|${widths.map((w, i) => (i >= 2 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(head), sep, ...body.map(line)].join("\n");
}

/** The targets as a table (target, measured, met). */
export function formatTargets(res: BenchResults): string {
  const head = ["target", "goal", "measured", "met"];
  const body = res.targets.map((t) => [t.name, t.target, t.measured + (t.note ? ` (${t.note})` : ""), t.pass === null ? "n/a" : t.pass ? "yes" : "NO"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  const sep = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(head), sep, ...body.map(line)].join("\n");
}
