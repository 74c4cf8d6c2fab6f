/** The repository root, for paths the benchmark spawns and writes. */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (bench/harness/../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
