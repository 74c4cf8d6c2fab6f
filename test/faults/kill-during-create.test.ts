/**
 * `kill -9` of the server during a stream of CreateAccountApiKey: after a restart,
 * every key whose creation was acknowledged works, and nothing is half-written (no key
 * without its machine user, no machine user without its key).
 */
import { describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { startServerProcess } from "./process.js";

const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

async function rpc(baseUrl: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${baseUrl}/tessera.v1.${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function login(baseUrl: string): Promise<string> {
  const r = await rpc(baseUrl, "AuthService/Login", ADMIN);
  expect(r.status).toBe(200);
  return r.json.tokens.accessToken as string;
}

describe("kill -9 during key creation", () => {
  const t = useTessera({ server: false });

  it("keeps every acknowledged key and leaves nothing half-written", async () => {
    const env = { ...t.database.env, AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: ADMIN.email, AUTH_ADMIN_PASSWORD: ADMIN.password };
    const first = await startServerProcess(env);
    const token = await login(first.baseUrl);
    const accounts = await rpc(first.baseUrl, "UserAccountService/GetUserAccounts", {}, token);
    const accountId = accounts.json.accounts[0].id as string;

    const acknowledged: string[] = [];
    let attempted = 0;
    let killed = false;
    const expiresAt = new Date(Date.now() + 7 * 86400_000).toISOString();
    const workers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !killed; i++) {
        attempted++;
        try {
          const r = await rpc(first.baseUrl, "ApiKeyService/CreateAccountApiKey", { accountId, name: `k-${w}-${i}`, expiresAt }, token);
          if (r.status === 200) acknowledged.push(r.json.keyValue as string);
        } catch {
          return; // the server is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill("SIGKILL");
    killed = true;
    await Promise.all(workers);
    const exit = await first.exited;
    expect(exit.signal).toBe("SIGKILL");
    expect(acknowledged.length).toBeGreaterThan(10);

    const second = await startServerProcess(env, first.port);
    try {
      for (const key of acknowledged) {
        const r = await rpc(second.baseUrl, "AuthService/CheckToken", {}, key);
        expect(r.status, `acknowledged key rejected after restart: ${JSON.stringify(r.json)}`).toBe(200);
        expect(r.json.accountId).toBe(accountId);
      }
      const db = t.database.db.kysely;
      const keys = await db.selectFrom("api_keys").select(["id", "user_id"]).execute();
      const machines = await db.selectFrom("users").select("id").where("kind", "=", "machine").execute();
      expect(keys.length).toBeGreaterThanOrEqual(acknowledged.length);
      expect(keys.length).toBeLessThanOrEqual(attempted);
      expect(new Set(keys.map((k) => k.user_id))).toEqual(new Set(machines.map((m) => m.id)));
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });
});
