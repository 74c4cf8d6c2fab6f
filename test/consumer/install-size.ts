/**
 * What an installed package costs on disk: its own directory, and the closure of
 * everything it needs at run time (dependencies, required peers, installed optional
 * dependencies), resolved the way Node resolves them from inside the install.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Bytes of the files under `dir` (apparent size), not counting its nested node_modules. */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules") continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += directoryBytes(p);
    else total += lstatSync(p).size;
  }
  return total;
}

/** The directory `name` resolves to from a package at `from`, walking up to `root`. */
function resolvePackageDir(name: string, from: string, root: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || path.dirname(dir) === dir) return undefined;
  }
}

/** A package's installed size: its own directory and its whole run-time closure, in bytes. */
export interface InstalledSize {
  name: string;
  ownBytes: number;
  closureBytes: number;
  closurePackages: number;
}

/** Measures `name` as installed in the project at `projectDir`. */
export function installedSize(projectDir: string, name: string): InstalledSize {
  const start = resolvePackageDir(name, projectDir, projectDir);
  if (!start) throw new Error(`${name} is not installed in ${projectDir}`);
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length) {
    const dir = queue.pop()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const m = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest;
    const required = [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}).filter((p) => !m.peerDependenciesMeta?.[p]?.optional)];
    for (const dep of required) {
      const d = resolvePackageDir(dep, dir, projectDir);
      if (!d) throw new Error(`${m.name} needs ${dep}, which is not installed`);
      queue.push(d);
    }
    // Optional dependencies (platform binaries) count when installed.
    for (const dep of Object.keys(m.optionalDependencies ?? {})) {
      const d = resolvePackageDir(dep, dir, projectDir);
      if (d) queue.push(d);
    }
  }
  let closureBytes = 0;
  for (const dir of seen) closureBytes += directoryBytes(dir);
  return { name, ownBytes: directoryBytes(start), closureBytes, closurePackages: seen.size };
}

/** `1234567` -> `1.2 MB` (decimal units, as npm prints sizes). */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(1)} kB`;
}
