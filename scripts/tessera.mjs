#!/usr/bin/env node
// `npm start` and `npm run tessera -- <command>` in this repository: builds the packages
// whose sources changed since their last build (a few seconds), then runs the `tessera`
// command exactly as an installed package does (packages/server/bin/tessera.js).
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildStale } from "./build-stale.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
buildStale();
await import(pathToFileURL(path.join(root, "packages/server/bin/tessera.js")).href);
