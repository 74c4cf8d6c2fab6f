#!/usr/bin/env node
// Sets one version on every package of the repository (the root and packages/*) and on
// the exact pins between them (@tessera/sdk, @tessera/connect, @tessera/cli, tessera):
// the packages are released together. `npm run version:set -- 0.3.0`, then add the
// CHANGELOG.md section and run `npm install` so the lock records the new versions.
// test/consumer/manifests.test.ts checks that all of this holds.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const version = process.argv[2];
if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error("usage: npm run version:set -- <major.minor.patch[-pre]>");
  process.exit(2);
}
const files = ["package.json", ...readdirSync(path.join(root, "packages")).map((d) => path.join("packages", d, "package.json"))];
const manifests = files.map((f) => ({ file: path.join(root, f), json: JSON.parse(readFileSync(path.join(root, f), "utf8")) }));
const internal = new Set(manifests.slice(1).map((m) => m.json.name));
for (const { file, json } of manifests) {
  json.version = version;
  for (const field of ["dependencies", "peerDependencies"]) {
    for (const dep of Object.keys(json[field] ?? {})) if (internal.has(dep)) json[field][dep] = version;
  }
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`${path.relative(root, file)}: ${json.name}@${version}`);
}
console.log(`\nNext: add "## ${version}" to CHANGELOG.md, then run \`npm install\` to update package-lock.json.`);
