/**
 * Hot-path mechanics: repeated bearers go straight to the verifier that accepted them,
 * and argon2 never occupies every core at once.
 */
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { authenticateBearer, createVerifierRoutes, type CredentialVerifier } from "../packages/server/src/auth/request/interceptor.js";
import { hashesInFlight, MAX_CONCURRENT_HASHES, passwordHashing } from "../packages/server/src/auth/passwords/hashing.js";
import type { Principal } from "../packages/server/src/auth/request/principal.js";

function verifier(accepts: string, calls: string[]): CredentialVerifier {
  return {
    async verify(token) {
      calls.push(accepts);
      if (token.startsWith(accepts)) return { kind: "anonymous", userId: token } satisfies Principal;
      if (token.startsWith(`bad-${accepts}`)) throw new ConnectError("nope", Code.Unauthenticated);
      return undefined;
    },
  };
}

describe("verifier routing", () => {
  it("asks a repeated token's verifier first, and still asks it every time", async () => {
    const calls: string[] = [];
    const vs = [verifier("a", calls), verifier("b", calls), verifier("c", calls)];
    const routes = createVerifierRoutes();
    expect((await authenticateBearer("Bearer c1", vs, routes)).userId).toBe("c1");
    expect(calls).toEqual(["a", "b", "c"]);
    calls.length = 0;
    expect((await authenticateBearer("Bearer c1", vs, routes)).userId).toBe("c1");
    expect(calls).toEqual(["c"]);
    // An unknown token is never remembered.
    await expect(authenticateBearer("Bearer zzz", vs, routes)).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(routes.peek("zzz")).toBeUndefined();
    // A verifier that now rejects its token wins over the memory: the rejection stands.
    await expect(authenticateBearer("Bearer bad-a", vs, routes)).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});

describe("argon2 concurrency", () => {
  it(`runs at most ${MAX_CONCURRENT_HASHES} hash(es) at once and queues the rest`, async () => {
    let maxSeen = 0;
    const timer = setInterval(() => (maxSeen = Math.max(maxSeen, hashesInFlight())), 1);
    const hashes = await Promise.all(Array.from({ length: 6 }, (_, i) => passwordHashing.hash(`correct horse battery ${i}`)));
    clearInterval(timer);
    expect(maxSeen).toBeGreaterThanOrEqual(1);
    expect(maxSeen).toBeLessThanOrEqual(MAX_CONCURRENT_HASHES);
    expect(hashesInFlight()).toBe(0);
    expect(await passwordHashing.verify(hashes[3]!, "correct horse battery 3")).toBe(true);
    expect(await passwordHashing.verify(hashes[3]!, "correct horse battery 4")).toBe(false);
  });
});
