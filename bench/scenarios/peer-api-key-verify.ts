/**
 * Scenario 7: the peer, Better Auth's API-key verify (bench/peer-better-auth.ts), in its
 * own process on the same PostgreSQL database; stopped once the rounds are over.
 */
import { startPeer } from "../harness/processes.js";
import type { InterleavedScenario } from "../scenario.js";

/** Scenario 7 (interleaved): n/a when the peer does not start. */
export const peerApiKeyVerify: InterleavedScenario = {
  id: "7",
  name: "Peer: Better Auth 1.7.5 api-key verify (rate limit off)",
  unavailableName: "Peer: Better Auth api-key verify",
  async prepare(ctx) {
    try {
      const peer = await startPeer(ctx.dbUrl, 1);
      return { server: peer, path: "/api/auth/api-key/verify", body: JSON.stringify({ key: peer.keys[0] }), stop: () => peer.stop() };
    } catch (e) {
      return { unavailable: (e as Error).message.slice(0, 200) || "peer did not start" };
    }
  },
};
