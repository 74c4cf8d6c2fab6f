/**
 * Switching a running server's log level without a restart: each call of the switch
 * (`tessera serve` makes one per SIGUSR2) moves the logger from the configured level to
 * the alternate one (LOG_LEVEL_SIGUSR2) or back, and says so in a `warn` line (so a
 * switch between `warn` and `info` is visible at both ends). Every line the server
 * writes, the per-RPC ones included, follows the new level from the next record on.
 */
import type { Logger } from "./logger.js";

/** What one switch did. */
export interface LevelSwitch {
  from: string;
  to: string;
}

/** A function that toggles `logger` between `base` and `alternate`. */
export function logLevelSwitch(logger: Logger, base: string, alternate: string): () => LevelSwitch {
  return () => {
    const from = logger.level;
    const to = from === alternate ? base : alternate;
    logger.level = to;
    logger.warn({ from, to }, "log level changed");
    return { from, to };
  };
}
