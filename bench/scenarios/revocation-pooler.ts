/**
 * Scenario 11 (issue 16): revocation through a transaction pooler. Debian's PgBouncer in
 * `pool_mode = transaction` in front of the bench database; instance B's DATABASE_URL
 * goes through it. With DATABASE_LISTEN_URL pointing at PostgreSQL directly (the
 * documented setting), then without it (the fail-safe: B reads the revocation log every
 * 500 ms): a key created on A (direct) and checked on both is deleted on A; B is polled
 * every 10 ms until it refuses the key. `revocationTrials` trials each.
 */
import { existsSync } from "node:fs";
import { bearer, CHECK } from "../constants.js";
import { connectCall } from "../harness/connect-call.js";
import { onCleanup } from "../harness/cleanup.js";
import { startTessera } from "../harness/processes.js";
import type { SequentialScenario } from "../scenario.js";
import { PGBOUNCER, startPgBouncer } from "../../test/helpers/pgbouncer.js";
import { revocation } from "./two-instances.js";

export const revocationPooler: SequentialScenario = {
  id: "11",
  async run(ctx) {
    if (!ctx.mainKey) {
      ctx.figures.revocationPooler = { unavailable: "API keys not available" };
      return;
    }
    if (!existsSync(PGBOUNCER)) {
      ctx.figures.revocationPooler = { unavailable: `${PGBOUNCER} not installed (apt-get install -y pgbouncer)` };
      return;
    }
    const u = new URL(ctx.dbUrl);
    const bouncer = await startPgBouncer({ host: u.hostname, port: Number(u.port || 5432) });
    onCleanup(() => bouncer.stop());
    const measure = async (env: Record<string, string>) => {
      const b = await startTessera({ ...ctx.tesseraEnv, DATABASE_URL: bouncer.via(ctx.dbUrl), ...env });
      const warm = await connectCall(b.baseUrl, CHECK, {}, bearer(ctx.mainKey!.key));
      if (warm.status !== 200) throw new Error(`instance B (through PgBouncer) rejected the key: ${warm.status}`);
      const r = await revocation(ctx, b);
      await b.stop();
      return r.crossInstanceMs;
    };
    ctx.log("bench: 9 revocation through PgBouncer, with DATABASE_LISTEN_URL");
    const listenUrlMs = await measure({ DATABASE_LISTEN_URL: ctx.dbUrl });
    ctx.log("bench: 9 revocation through PgBouncer, without DATABASE_LISTEN_URL (fail-safe)");
    const failSafeMs = await measure({});
    ctx.figures.revocationPooler = { listenUrlMs, failSafeMs };
    await bouncer.stop();
  },
};
