/**
 * The sweep of email tokens (issue 18), run with the app like the device-login sweep:
 * every minute it deletes, in bounded batches, the tokens that can no longer be used:
 * expired ones at once, used ones a day after their use. A link that no longer works
 * answers the same "invalid, used or expired" with or without its row.
 */
import type { Deps, Feature } from "../../deps.js";
import { deleteEndedEmailTokens } from "../../store/email-tokens.js";

/** Used tokens are kept this long after their use (support can see a link was followed), then deleted. */
const KEEP_USED_MS = 24 * 3600_000;
/** How often the sweep runs, and how many rows each of its statements deletes at most. */
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1000;

export interface EmailTokenSweep extends Feature {
  /** Deletes ended tokens, one bounded batch per kind (the timer calls it; tests too). */
  sweep(): Promise<number>;
}

/** Builds the sweep; `start` sets its timer, `stop` clears it. */
export function createEmailTokenSweep(deps: Pick<Deps, "db" | "clock" | "logger">): EmailTokenSweep {
  const { clock, logger } = deps;
  const db = deps.db.kysely;
  let timer: NodeJS.Timeout | undefined;

  async function sweep(): Promise<number> {
    const now = clock();
    return deleteEndedEmailTokens(db, now, new Date(now.getTime() - KEEP_USED_MS), SWEEP_BATCH);
  }

  return {
    sweep,
    async start() {
      timer = setInterval(() => {
        sweep().catch((e: Error) => logger.warn({ err: { message: e.message } }, "could not delete ended email tokens"));
      }, SWEEP_EVERY_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
