/**
 * Issue 16 fault test: an instance frozen (SIGSTOP) while a key it has cached is deleted
 * elsewhere. When it wakes (SIGCONT) the deletion is older than the bound (1 s), so its
 * very first answer must already refuse the key: the notification may still sit unread
 * in its socket, and its caches must not be trusted until it has read the log.
 */
import { describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { DEFAULT_ACCOUNT_ID } from "../../packages/server/src/store/ids.js";
import { useTessera } from "../harness.js";
import { startServerProcess } from "./process.js";

async function checkToken(baseUrl: string, token: string): Promise<number> {
  const res = await fetch(`${baseUrl}/tessera.v1.AuthService/CheckToken`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: "{}",
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("revocation when an instance is frozen (SIGSTOP) and wakes", () => {
  // A: in this process, manages keys (AUTH_MODE=none); B: a separate `tessera serve` that can be frozen.
  const t = useTessera({ ownDatabase: true });

  it("refuses, on its first request after waking, a key deleted while it was frozen", async () => {
    const b = await startServerProcess({ ...t.database.env, AUTH_MODE: "full" });
    try {
      for (let round = 0; round < 5; round++) {
        const created = await t.client(ApiKeyService).createAccountApiKey({
          accountId: DEFAULT_ACCOUNT_ID,
          name: `freeze ${round}`,
          expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
        });
        for (let i = 0; i < 3; i++) expect(await checkToken(b.baseUrl, created.keyValue)).toBe(200);
        b.child.kill("SIGSTOP");
        try {
          await t.client(ApiKeyService).deleteAccountApiKey({ id: created.apiKey!.id });
          await new Promise((r) => setTimeout(r, 1500));
        } finally {
          b.child.kill("SIGCONT");
        }
        expect(await checkToken(b.baseUrl, created.keyValue), `round ${round}`).toBe(401);
      }
    } finally {
      b.child.kill("SIGKILL");
      await b.exited;
    }
  });
});
