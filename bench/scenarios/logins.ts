/**
 * Scenario 6: password logins (argon2id) at full load alongside scenario 2's API-key
 * load (6, 6L), then with the API-key load at a fixed offered rate (6r, 6rL). Each login
 * comes from a different client address and no user logs in more than a few times, so
 * the per-network and per-email limits hold unchanged.
 */
import { BENCH_PASSWORD, bearer, CHECK, FIXED_CONNECTIONS, FIXED_RATE, LOGIN } from "../constants.js";
import { ipSequence } from "../context.js";
import { insertLoginUsers } from "../fixtures.js";
import { summarizeParallel } from "../harness/summary.js";
import { record, skip } from "../results.js";
import type { SequentialScenario } from "../scenario.js";

/** Scenario 6 (6, 6L, 6r, 6rL): n/a when API keys do not work. */
export const logins: SequentialScenario = {
  id: "6",
  async run(ctx) {
    const { opts, a, figures } = ctx;
    if (!ctx.mainKey) return skip(figures, "6", "CheckToken, API key, during logins", "API keys not available");
    const key = bearer(ctx.mainKey.key);
    ctx.log(`bench: 6 logins alongside API-key CheckToken (${opts.loginUsers} users)`);
    const emails = await insertLoginUsers(ctx.pool, opts.loginUsers, BENCH_PASSWORD);
    const loginIps = ipSequence(2);
    let n = 0;
    const loginSpec = () =>
      ctx.spec(a.baseUrl, LOGIN, {
        connections: opts.loginConnections,
        vary: () => ({ headers: { "x-forwarded-for": loginIps() }, body: JSON.stringify({ email: emails[n++ % emails.length], password: BENCH_PASSWORD }) }),
      });
    const m = await ctx.measure([a], [ctx.spec(a.baseUrl, CHECK, { headers: key }), loginSpec()], false);
    const keyRun = summarizeParallel([m.runs[0]!]);
    const loginRun = summarizeParallel([m.runs[1]!]);
    const perUser = loginRun.requests / emails.length;
    record(figures, "6", "CheckToken, API key, during logins", keyRun, m.rss);
    record(
      figures,
      "6L",
      `  Login (argon2id) alongside, ${opts.loginConnections} connections`,
      loginRun,
      m.rss,
      perUser > 10 ? "near the per-email limit" : undefined,
    );
    const m6r = await ctx.measure([a], [ctx.spec(a.baseUrl, CHECK, { headers: key, rate: FIXED_RATE, connections: FIXED_CONNECTIONS }), loginSpec()], false);
    record(
      figures,
      "6r",
      `  same, API key offered at a fixed ${FIXED_RATE} req/s (${FIXED_CONNECTIONS} connections) during logins`,
      summarizeParallel([m6r.runs[0]!]),
      m6r.rss,
    );
    record(figures, "6rL", `  Login alongside 6r`, summarizeParallel([m6r.runs[1]!]), m6r.rss);
  },
};
