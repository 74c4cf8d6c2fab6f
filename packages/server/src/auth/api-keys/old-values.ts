/**
 * The end of rotation overlaps (issue 19). Verification already refuses an old value
 * from the end of its overlap by the clock; this sweep then clears it from the key and
 * records its revocation in the revocation log, in one transaction (a row is cleared by
 * one instance only), so every instance's cache forgets it and services watching
 * revocations refuse it too, within the revocation bound; it audits `apikey.old_value.expired`.
 */
import type { Deps, Feature } from "../../deps.js";
import { anyEndedOldApiKeyValue, clearEndedOldApiKeyValues } from "../../store/api-key-old-values.js";
import { insertRevocations } from "../../store/revocation-log.js";
import type { RevocationLog } from "../revocation/log.js";

/** How often ended overlaps are looked for, and how many one pass clears at most. */
const SWEEP_EVERY_MS = 1000;
const SWEEP_BATCH = 500;

export interface OldValueSweep extends Feature {
  /** One pass now (tests); the number of old values ended. */
  sweep(): Promise<number>;
}

/** Builds the sweep of ended overlaps. */
export function createOldValueSweep(deps: Deps, revocations: Pick<RevocationLog, "published">, opts: { everyMs?: number } = {}): OldValueSweep {
  const { db, clock, audit, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function pass(): Promise<number> {
    // Most passes find nothing: one probe, no transaction.
    if (!(await anyEndedOldApiKeyValue(db.kysely, clock()))) return 0;
    const ended = await db.kysely.transaction().execute(async (trx) => {
      const rows = await clearEndedOldApiKeyValues(trx, clock(), SWEEP_BATCH);
      const sequence = await insertRevocations(
        trx,
        rows.map((r) => ({ kind: "api_key" as const, target: r.previous_key_hash })),
      );
      return { rows, sequence };
    });
    if (ended.rows.length === 0) return 0;
    await revocations.published(ended.sequence);
    for (const r of ended.rows) {
      audit.record({
        action: "apikey.old_value.expired",
        accountId: r.account_id,
        metadata: {
          api_key_id: r.id,
          name: r.name,
          old_value_start: r.previous_start ?? "",
          old_value_expires_at: new Date(r.previous_expires_at).toISOString(),
        },
      });
    }
    return ended.rows.length;
  }

  function sweep(): Promise<number> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    sweep,
    async start() {
      timer = setInterval(() => {
        sweep().catch((e: Error) => logger.warn({ err: { message: e.message } }, "could not end api key overlaps"));
      }, opts.everyMs ?? SWEEP_EVERY_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
