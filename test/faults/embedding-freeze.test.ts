/**
 * Issue 16 fault test, in a service that embeds Tessera: the service (bench/embed-service.ts,
 * `@tessera/connect` with the revocation stream, its own process) is frozen with SIGSTOP
 * while a key it has cached is deleted in Tessera. Woken 1.5 s later (past the 1 s bound,
 * within the 3 s staleness bound), its very first answer must already refuse the key.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ApiKeyService } from "../../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { UserAccountService } from "../../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { useTessera } from "../harness.js";
import { startEmbedService } from "../../bench/harness/embed-process.js";

async function greet(baseUrl: string, token: string): Promise<number> {
  const res = await fetch(`${baseUrl}/greet.v1.GreetService/Greet`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: "freeze" }),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("revocation in an embedding service frozen (SIGSTOP) and woken", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });

  it("refuses, on its first request after waking, a key deleted while it was frozen", async () => {
    const owner = await t.signUp();
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", owner.userId).execute();
    const accountId = (await t.client(UserAccountService, { token: owner.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const keys = t.client(ApiKeyService, { token: owner.accessToken });
    const expiresAt = timestampFromDate(new Date(Date.now() + 86_400_000));
    const watch = (await keys.createAccountApiKey({ accountId, name: "watcher", expiresAt })).keyValue;

    const embed = await startEmbedService(t.baseUrl, watch);
    const child = embed.authed.child;
    try {
      const base = embed.authed.baseUrl;
      const live = async () => (await embed.stats()).stream?.live ?? false;
      await expect.poll(live, { timeout: 10_000, interval: 100 }).toBe(true);
      for (let round = 0; round < 5; round++) {
        const created = await keys.createAccountApiKey({ accountId, name: `freeze ${round}`, expiresAt });
        for (let i = 0; i < 3; i++) expect(await greet(base, created.keyValue)).toBe(200);
        child.kill("SIGSTOP");
        try {
          await keys.deleteAccountApiKey({ id: created.apiKey!.id });
          await new Promise((r) => setTimeout(r, 1500));
        } finally {
          child.kill("SIGCONT");
        }
        expect(await greet(base, created.keyValue), `round ${round}`).toBe(401);
        await expect.poll(live, { timeout: 10_000, interval: 100 }).toBe(true);
      }
    } finally {
      child.kill("SIGCONT");
      await embed.authed.stop();
    }
  });
});
