/** Scenario 1: GetAuthConfig, public and unauthenticated: the floor every other scenario is compared with. */
import { CONFIG } from "../constants.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 1 (interleaved). */
export const getAuthConfig: InterleavedScenario = {
  id: "1",
  name: "GetAuthConfig (public, no auth)",
  prepare: async (ctx) => ({ server: ctx.a, path: CONFIG }),
};
