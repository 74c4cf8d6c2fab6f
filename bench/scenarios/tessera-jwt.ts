/** Scenario 3: CheckToken with the owner's Tessera access token (ES256 JWT). */
import { bearer, CHECK } from "../constants.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 3 (interleaved). */
export const tesseraJwt: InterleavedScenario = {
  id: "3",
  name: "CheckToken, Tessera JWT (ES256)",
  prepare: async (ctx) => ({ server: ctx.a, path: CHECK, headers: bearer(ctx.jwt) }),
};
