/**
 * First-time provisioning of OpenID identities, on PostgreSQL and PGlite: one user,
 * one personal account and one identity per (issuer, subject) even when 20 first
 * requests race, and no orphan user left by the losers.
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "./harness.js";
import { countIdentities, findIdentityUser, provisionIdentity } from "../packages/server/src/store/identities.js";
import { consumeLoginTransaction, deleteExpiredLoginTransactions, insertLoginTransaction } from "../packages/server/src/store/login-transactions.js";

describe.each(DB_KINDS)("OpenID identity provisioning on %s", (kind) => {
  const tessera = useTessera({ db: kind, server: false });

  it("creates the user exactly once under 20 concurrent first requests, without orphans", async () => {
    const db = tessera.database.db.kysely;
    const issuer = "https://idp.example.test";
    const profile = { email: "race@example.test", name: "Race", image: null };
    const results = await Promise.all(Array.from({ length: 20 }, () => provisionIdentity(db, issuer, "race-subject", profile)));
    const ids = new Set(results.map((r) => r.userId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await countIdentities(db, issuer, "race-subject")).toBe(1);
    const users = await db.selectFrom("users").select("id").where("email", "=", "race@example.test").execute();
    expect(users).toHaveLength(1);
    const accounts = await db.selectFrom("accounts").select("id").where("personal_user_id", "=", users[0]!.id).execute();
    expect(accounts).toHaveLength(1);
    expect((await findIdentityUser(db, issuer, "race-subject"))?.userId).toBe(users[0]!.id);
  });

  it("keeps identities of different issuers with the same subject apart", async () => {
    const db = tessera.database.db.kysely;
    const a = await provisionIdentity(db, "https://a.example.test", "same", { email: null, name: null, image: null });
    const b = await provisionIdentity(db, "https://b.example.test", "same", { email: null, name: null, image: null });
    expect(a.userId).not.toBe(b.userId);
  });

  it("consumes a login transaction exactly once under concurrency", async () => {
    const db = tessera.database.db.kysely;
    const now = new Date();
    const t = {
      stateHash: "ab".repeat(32),
      nonce: "n",
      providerId: "default",
      issuer: "https://idp",
      redirectUri: "http://127.0.0.1/cb",
      codeChallenge: "c",
      createdAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    };
    expect(await insertLoginTransaction(db, t)).toBe(true);
    expect(await insertLoginTransaction(db, t)).toBe(false);
    const results = await Promise.all(Array.from({ length: 10 }, () => consumeLoginTransaction(db, t.stateHash, now)));
    expect(results.filter((r) => r.status === "ok")).toHaveLength(1);
    expect(results.filter((r) => r.status === "used")).toHaveLength(9);
    expect((await consumeLoginTransaction(db, "cd".repeat(32), now)).status).toBe("unknown");
    expect(await deleteExpiredLoginTransactions(db, new Date(now.getTime() + 120_000))).toBeGreaterThanOrEqual(1);
  });
});
