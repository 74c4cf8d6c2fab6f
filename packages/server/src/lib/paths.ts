/**
 * Where the project's own files are, whether the code runs from `src/` (TypeScript
 * through a loader) or from the bundle `bin/tessera.js` builds into `dist/`.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "tessera") return dir;
      } catch {
        /* not ours; keep looking */
      }
    }
    if (path.dirname(dir) === dir) return from;
  }
}

/** The project's root directory (holding its package.json). */
export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
