#!/usr/bin/env node
// Builds the workspace packages whose sources changed since their last build, in
// dependency order (sdk, connect, cli, server). Used by `npm start`, `npm run tessera`
// and the tests' global setup, so what runs is always what the sources say.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const packages = ["sdk", "connect", "cli", "server"];

/** Newest modification time of any file under `dir` (0 when it does not exist). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Oldest output a build leaves: the package's dist marker files. */
function builtAt(pkg) {
  const marker = path.join(root, "packages", pkg, pkg === "server" ? "dist/commands/index.js" : "dist/esm/index.js");
  return existsSync(marker) ? statSync(marker).mtimeMs : 0;
}

/** Rebuilds stale packages; returns the ones it built. */
export function buildStale() {
  const built = [];
  let stale = false;
  for (const pkg of packages) {
    // A package is rebuilt when it, or one built before it, changed since its build.
    stale ||= newest(path.join(root, "packages", pkg, "src")) > builtAt(pkg);
    if (stale) {
      process.stderr.write(`tessera: building packages/${pkg} (its sources changed)\n`);
      execFileSync(process.execPath, [path.join(root, "scripts/build-package.mjs"), pkg === "server" ? "server" : pkg === "cli" ? "esm" : "dual"], {
        cwd: path.join(root, "packages", pkg),
        stdio: ["ignore", "inherit", "inherit"],
      });
      built.push(pkg);
    }
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildStale();
