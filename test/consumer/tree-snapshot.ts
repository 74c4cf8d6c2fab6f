/**
 * A directory tree's shape, to prove a run wrote nothing there: every path with its
 * type, size and modification time.
 */
import { lstatSync, readdirSync } from "node:fs";
import path from "node:path";

/** Path (relative to `root`) -> "type size mtime" for everything under `root`. */
export function snapshotTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const st = lstatSync(p);
      out.set(path.relative(root, p), `${e.isDirectory() ? "d" : e.isSymbolicLink() ? "l" : "f"} ${e.isDirectory() ? 0 : st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** Paths added, removed or changed between two snapshots (at most `limit`). */
export function changedPaths(before: Map<string, string>, after: Map<string, string>, limit = 20): string[] {
  const out: string[] = [];
  for (const [p, v] of after) if (before.get(p) !== v) out.push(`${before.has(p) ? "changed" : "added"} ${p}`);
  for (const p of before.keys()) if (!after.has(p)) out.push(`removed ${p}`);
  return out.slice(0, limit);
}
