/** Scenario 4: CheckToken with the OpenID provider's access token (RS256 JWT, the provider's keys cached). */
import { bearer, CHECK } from "../constants.js";
import { connectCall } from "../harness/connect-call.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 4 (interleaved): n/a when the provider issues no token Tessera accepts. */
export const providerJwt: InterleavedScenario = {
  id: "4",
  name: "CheckToken, OpenID provider JWT (RS256, keys cached)",
  unavailableName: "CheckToken, OpenID provider JWT",
  async prepare(ctx) {
    try {
      const token = await ctx.provider.accessTokenFor("bench-oidc-user");
      const r = await connectCall(ctx.a.baseUrl, CHECK, {}, bearer(token)); // first use provisions the user
      if (r.status !== 200) return { unavailable: `CheckToken with a provider token answered ${r.status} ${JSON.stringify(r.json).slice(0, 120)}` };
      return { server: ctx.a, path: CHECK, headers: bearer(token) };
    } catch (e) {
      return { unavailable: `provider token: ${(e as Error).message}` };
    }
  },
};
