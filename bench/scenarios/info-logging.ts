/**
 * Scenario 1i: scenario 1's request on a second instance that logs every RPC at
 * LOG_LEVEL=info, one JSON line per RPC written to a file (as under a log collector).
 * Scenario 1w is its control: a third instance started the same way (fresh, its stdout
 * a file) at LOG_LEVEL=warn, so 1i vs 1w differ only in the level. Both are measured
 * interleaved with scenario 1 (instance A, which also served the setup and holds more),
 * so the ratios 1i/1w and 1i/1 are what info-level logging costs.
 */
import { closeSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CONFIG } from "../constants.js";
import { onCleanup } from "../harness/cleanup.js";
import { startTessera } from "../harness/processes.js";
import type { InterleavedScenario } from "../scenario.js";

/** An instance at `level` whose stdout is a file, serving scenario 1's request. */
function loggingInstance(id: string, level: "info" | "warn"): InterleavedScenario["prepare"] {
  return async (ctx) => {
    const file = path.join(tmpdir(), `tessera-bench-${id}-${process.pid}.log`);
    const fd = openSync(file, "w");
    const server = await startTessera({ ...ctx.tesseraEnv, LOG_LEVEL: level }, [], fd);
    closeSync(fd);
    onCleanup(async () => rmSync(file, { force: true }));
    return {
      server,
      path: CONFIG,
      stop: async () => {
        await server.stop();
        ctx.log(`bench: scenario ${id} wrote ${Math.round(statSync(file).size / 1024)} KiB of log lines`);
      },
    };
  };
}

/** Scenario 1i (interleaved). */
export const infoLogging: InterleavedScenario = {
  id: "1i",
  name: "GetAuthConfig, LOG_LEVEL=info (a line per RPC to a file)",
  prepare: loggingInstance("1i", "info"),
};

/** Scenario 1w (interleaved): 1i's control, the same kind of instance at LOG_LEVEL=warn. */
export const warnLogging: InterleavedScenario = {
  id: "1w",
  name: "  same, LOG_LEVEL=warn (1i's control: an instance started alike)",
  prepare: loggingInstance("1w", "warn"),
};
