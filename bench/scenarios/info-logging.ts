/**
 * Scenario 1i: scenario 1's request on a second instance that logs every RPC at
 * LOG_LEVEL=info, one JSON line per RPC written to a file (as under a log collector).
 * Measured interleaved with scenario 1 (LOG_LEVEL=warn), so the ratio of the two is
 * what info-level logging costs.
 */
import { closeSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CONFIG } from "../constants.js";
import { onCleanup } from "../harness/cleanup.js";
import { startTessera } from "../harness/processes.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 1i (interleaved). */
export const infoLogging: InterleavedScenario = {
  id: "1i",
  name: "GetAuthConfig, LOG_LEVEL=info (a line per RPC to a file)",
  prepare: async (ctx) => {
    const file = path.join(tmpdir(), `tessera-bench-info-${process.pid}.log`);
    const fd = openSync(file, "w");
    const server = await startTessera({ ...ctx.tesseraEnv, LOG_LEVEL: "info" }, [], fd);
    closeSync(fd);
    onCleanup(async () => rmSync(file, { force: true }));
    return {
      server,
      path: CONFIG,
      stop: async () => {
        await server.stop();
        ctx.log(`bench: scenario 1i wrote ${Math.round(statSync(file).size / 1024)} KiB of log lines`);
      },
    };
  },
};
