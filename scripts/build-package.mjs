#!/usr/bin/env node
// Builds the workspace package in the current directory to plain JavaScript with type
// declarations (the way connect-es builds its packages: tsc, twice for dual packages).
//   dual    ESM in dist/esm and CommonJS in dist/cjs (the SDK and the interceptor)
//   esm     ESM in dist/esm (the CLI)
//   server  ESM in dist, plus the browser console bundled into dist/console
// Run by each package's `build` script (`npm run build` at the root builds them all, in order).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const mode = process.argv[2];
const pkgDir = process.cwd();
const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
const run = (...args) => execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", ...args], { stdio: "inherit", cwd: pkgDir });

rmSync(path.join(pkgDir, "dist"), { recursive: true, force: true });
if (mode === "dual" || mode === "esm") {
  run("--outDir", "dist/esm");
  if (mode === "dual") {
    run("--outDir", "dist/cjs", "--module", "commonjs", "--moduleResolution", "node10", "--verbatimModuleSyntax", "false");
    writeFileSync(path.join(pkgDir, "dist/cjs/package.json"), '{"type":"commonjs"}\n');
  }
} else if (mode === "server") {
  run();
  const { build } = await import("esbuild");
  const web = path.join(pkgDir, "src/console/web");
  const out = path.join(pkgDir, "dist/console");
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [path.join(web, "app.ts")],
    outfile: path.join(out, "app.js"),
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2020",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  });
  for (const f of ["index.html", "app.css"]) copyFileSync(path.join(web, f), path.join(out, f));
} else {
  console.error("usage: build-package.mjs dual|esm|server");
  process.exit(2);
}
