/** The two kinds of benchmark scenario (bench/scenarios/), as the registry in bench/scenarios.ts lists them. */
import type { BenchContext } from "./context.js";
import type { Child } from "./harness/processes.js";

/** The fixed request an interleaved scenario sends, as fast as answered. */
export interface RoundLoad {
  server: Child;
  /** Further instances of the same kind: round r is served by [server, ...alternates][r % n], so no one process's luck decides the row. */
  alternates?: readonly Child[];
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Called before each slice (and warm-up) on the server about to serve it, outside the measurement (e.g. to switch its log level). */
  beforeSlice?(server: Child): Promise<void>;
  /** Called once the rounds are over (e.g. to stop the peer). */
  stop?(): Promise<void>;
}

/**
 * A scenario measured in interleaved rounds with the others of its kind (1-4 and 7),
 * so that drift on the machine shifts them alike and the ratios between them hold.
 */
export interface InterleavedScenario {
  /** The row id. */
  id: string;
  /** The row's text. */
  name: string;
  /** The row's text when the scenario cannot run (default: `name`). */
  unavailableName?: string;
  /** Gets the scenario ready (tokens, processes), or says why it cannot run. */
  prepare(ctx: BenchContext): Promise<RoundLoad | { unavailable: string }>;
}

/** A scenario measured on its own, after the interleaved rounds (5, 6, 8); records its rows in table order. */
export interface SequentialScenario {
  /** The scenario's number. */
  id: string;
  run(ctx: BenchContext): Promise<void>;
}
