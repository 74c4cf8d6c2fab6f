/**
 * The version of the `tessera` command: the one of the @tessera/cli package it runs from.
 */
import { readFileSync } from "node:fs";

/** @tessera/cli's version, from its package.json (`dist/esm/` or `src/` below it). */
export function cliVersion(): string {
  for (const rel of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "@tessera/cli" && pkg.version) return pkg.version;
    } catch {
      /* not there: try the next */
    }
  }
  return "unknown";
}
