/** Scenario 2: CheckToken with one API key, over and over: the verification cache is warm. */
import { bearer, CHECK } from "../constants.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 2 (interleaved). */
export const apiKeyCached: InterleavedScenario = {
  id: "2",
  name: "CheckToken, API key (cache warm)",
  prepare: async (ctx) => (ctx.mainKey ? { server: ctx.a, path: CHECK, headers: bearer(ctx.mainKey.key) } : { unavailable: "API keys not available" }),
};
