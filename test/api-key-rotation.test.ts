/**
 * API-key rotation with overlap and last use (issue 19), on PostgreSQL and PGlite: a
 * regenerate with `overlap_seconds` keeps the old value valid until the overlap ends
 * (the harness's clock moves past it), RevokeOldAccountApiKeyValue and delete end it at
 * once, a second regenerate ends the old-old value, the overlap is bounded to 24 h, the
 * audit trail follows both values, and each key records the IP and user agent of its
 * last use with last_used_at's throttling (at most once a minute).
 */
import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { Code } from "@connectrpc/connect";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createApiKeyAuth } from "../packages/server/src/auth/api-keys/verifier.js";
import { DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";
import { DB_KINDS, useTessera } from "./harness.js";
import { mintApiKey } from "./helpers/principals.js";
import { msUntilRejected } from "./helpers/server.js";
import { codeOf, errorOf } from "./helpers/outcome.js";

const DAY = 86_400_000;

describe.each(DB_KINDS)("api key rotation on %s", (kind) => {
  /** AUTH_MODE=none: every caller is the anonymous admin of the default account. */
  const t = useTessera({ db: kind });
  /** AUTH_MODE=full on the same database and clock: authenticates with the keys. */
  const auth = t.useServer({ env: { AUTH_MODE: "full" } });

  const keys = () => t.client(ApiKeyService);
  const inDays = (d: number) => timestampFromDate(new Date(t.clock.now().getTime() + d * DAY));
  const check = (token: string) => codeOf(auth.client(AuthService, { token }).checkToken({}));
  const create = async (name: string, expiresInDays = 30) => {
    const res = await keys().createAccountApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: `${name} ${Math.random()}`, expiresAt: inDays(expiresInDays) });
    return { id: res.apiKey!.id, value: res.keyValue, start: res.apiKey!.start };
  };
  const auditOf = async (id: string) => {
    await t.server.app.deps.audit.flush();
    return t.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "like", "apikey.%")
      .where(sql<boolean>`metadata->>'api_key_id' = ${id}`)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  };

  it("keeps both values valid during the overlap and refuses the old one once it ends", async () => {
    const key = await create("overlap");
    expect(await check(key.value)).toBe("ok"); // cached on `auth` before the regenerate
    const regen = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 3600 });
    expect(regen.revocationSequence).toBe(0n); // nothing ended yet
    const before = t.clock.now().getTime();
    for (let i = 0; i < 3; i++) {
      expect(await check(key.value)).toBe("ok");
      expect(await check(regen.keyValue)).toBe("ok");
    }
    const listed = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    expect(listed.previousStart).toBe(key.start);
    expect(listed.start).not.toBe(key.start);
    const until = timestampDate(listed.previousValueExpiresAt!).getTime();
    expect(until).toBeGreaterThanOrEqual(before + 3600_000 - 5_000);
    expect(until).toBeLessThanOrEqual(t.clock.now().getTime() + 3600_000);
    // The old value answers CheckToken with the overlap's end as its expiry.
    const old = await auth.client(AuthService, { token: key.value }).checkToken({});
    expect(old.apiKeyId).toBe(key.id);

    // Past the end of the overlap: the old value stops (cached or not), the new one works.
    t.clock.advance(3601);
    expect(await msUntilRejected(auth, key.value, 5000)).toBeLessThan(5000);
    expect(await check(key.value)).toBe(Code.Unauthenticated);
    expect(await check(regen.keyValue)).toBe("ok");
    // The sweep cleared it: no old value listed, and its end is in the audit trail.
    for (let i = 0; i < 100; i++) {
      const k = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
      const row = await t.database.db.kysely.selectFrom("api_keys").select("previous_key_hash").where("id", "=", key.id).executeTakeFirstOrThrow();
      if (row.previous_key_hash === null) {
        expect(k.previousValueExpiresAt).toBeUndefined();
        expect(k.previousStart).toBe("");
        break;
      }
      expect(i).toBeLessThan(99);
      await new Promise((r) => setTimeout(r, 50));
    }
    const events = await auditOf(key.id);
    expect(events.map((e) => e.action)).toEqual(["apikey.create.success", "apikey.regenerate.success", "apikey.old_value.expired"]);
    expect(events[1]!.metadata).toMatchObject({ overlap_seconds: 3600, old_value_start: key.start, old_value_expires_at: new Date(until).toISOString() });
    expect(events[2]!.metadata).toMatchObject({ old_value_start: key.start, old_value_expires_at: new Date(until).toISOString() });
    expect(events[2]!.actor_user_id).toBeNull();
    for (const e of events) {
      expect(JSON.stringify(e)).not.toContain(key.value.slice(4));
      expect(JSON.stringify(e)).not.toContain(regen.keyValue.slice(4));
    }
  });

  it("RevokeOldAccountApiKeyValue ends the old value at once and keeps the new one", async () => {
    const key = await create("revoke old");
    expect(await check(key.value)).toBe("ok");
    const regen = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 86_400 });
    expect(await check(key.value)).toBe("ok");
    const res = await keys().revokeOldAccountApiKeyValue({ id: key.id });
    expect(res.revocationSequence).toBeGreaterThan(0n);
    expect(await msUntilRejected(auth, key.value)).toBeLessThan(1000);
    expect(await check(regen.keyValue)).toBe("ok");
    const listed = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    expect(listed.previousValueExpiresAt).toBeUndefined();
    expect(listed.previousStart).toBe("");
    // Again: nothing left to revoke.
    expect((await keys().revokeOldAccountApiKeyValue({ id: key.id })).revocationSequence).toBe(0n);
    const events = await auditOf(key.id);
    expect(events.map((e) => e.action)).toEqual(["apikey.create.success", "apikey.regenerate.success", "apikey.old_value.revoke.success"]);
    expect(events[2]!.metadata).toMatchObject({ old_value_start: key.start, reason: "revoke_old" });
  });

  it("delete ends both values", async () => {
    const key = await create("delete both");
    const regen = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 3600 });
    expect(await check(key.value)).toBe("ok");
    expect(await check(regen.keyValue)).toBe("ok");
    const del = await keys().deleteAccountApiKey({ id: key.id });
    expect(del.revocationSequence).toBeGreaterThan(0n);
    expect(await msUntilRejected(auth, key.value)).toBeLessThan(1000);
    expect(await msUntilRejected(auth, regen.keyValue)).toBeLessThan(1000);
    const events = await auditOf(key.id);
    expect(events.at(-1)).toMatchObject({ action: "apikey.delete.success", metadata: { old_value_start: key.start } });
  });

  it("a second regenerate during an overlap ends the old-old value at once", async () => {
    const key = await create("twice");
    const first = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 3600 });
    expect(await check(key.value)).toBe("ok");
    expect(await check(first.keyValue)).toBe("ok");
    const second = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 600 });
    expect(second.revocationSequence).toBeGreaterThan(0n);
    expect(await msUntilRejected(auth, key.value)).toBeLessThan(1000);
    expect(await check(first.keyValue)).toBe("ok");
    expect(await check(second.keyValue)).toBe("ok");
    const listed = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    expect(listed.previousStart).toBe(first.apiKey!.start);
    const events = await auditOf(key.id);
    // (The second regenerate's two events are recorded in the same millisecond: compared as a set.)
    expect(events.map((e) => e.action).sort()).toEqual([
      "apikey.create.success",
      "apikey.old_value.revoke.success",
      "apikey.regenerate.success",
      "apikey.regenerate.success",
    ]);
    expect(events.find((e) => e.action === "apikey.old_value.revoke.success")!.metadata).toMatchObject({
      old_value_start: key.start,
      reason: "regenerated_again",
    });
    // And one without an overlap ends every earlier value.
    const third = await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30) });
    expect(await msUntilRejected(auth, first.keyValue)).toBeLessThan(1000);
    expect(await msUntilRejected(auth, second.keyValue)).toBeLessThan(1000);
    expect(await check(third.keyValue)).toBe("ok");
  });

  it("bounds the overlap: over 24 hours is InvalidArgument; never past the old value's own expiry", async () => {
    const key = await create("bounded", 1);
    const over = await errorOf(keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 86_401 }));
    expect(over.code).toBe(Code.InvalidArgument);
    expect(over.rawMessage).toMatch(/overlap_seconds must be 0 to 86400/);
    expect(await check(key.value)).toBe("ok"); // the refused regenerate changed nothing
    // The old value expires in a day: a 24-hour overlap cannot extend it.
    const expiresAt = (await keys().getAccountApiKey({ id: key.id })).apiKey!.expiresAt!;
    await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 86_400 });
    const listed = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    expect(timestampDate(listed.previousValueExpiresAt!).getTime()).toBe(timestampDate(expiresAt).getTime());
  });

  it("concurrent regenerate with an overlap and delete: no value works afterwards", async () => {
    for (let rep = 0; rep < 5; rep++) {
      const key = await create(`race ${rep}`);
      const [regen, del] = await Promise.allSettled([
        keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 3600 }),
        keys().deleteAccountApiKey({ id: key.id }),
      ]);
      expect(del.status).toBe("fulfilled");
      if (regen.status === "rejected") expect((await errorOf(Promise.reject(regen.reason))).code).toBe(Code.NotFound);
      const values = [key.value, ...(regen.status === "fulfilled" ? [regen.value.keyValue] : [])];
      for (const v of values) expect(await msUntilRejected(auth, v)).toBeLessThan(1000);
    }
  });

  it("records the IP and user agent of a key's last use, bounded", async () => {
    const key = await create("last use");
    const ua = `rotation-test/1.0 ${"x".repeat(400)}`;
    const client = t.clientOf(auth, AuthService, { token: key.value, headers: { "user-agent": ua } });
    await client.checkToken({});
    // Written in the background (every 2 s): wait for it.
    let got = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    for (let i = 0; i < 200 && got.lastUsedIp === ""; i++) {
      await new Promise((r) => setTimeout(r, 50));
      got = (await keys().getAccountApiKey({ id: key.id })).apiKey!;
    }
    expect(got.lastUsedAt).toBeDefined();
    expect(got.lastUsedIp).toBe("127.0.0.1");
    expect(got.lastUsedUserAgent).toBe(ua.slice(0, 256));
  });

  it("refuses the old value from the very end of its overlap, by the verifier's clock (before any sweep)", async () => {
    const key = await create("exact end");
    await keys().regenerateAccountApiKey({ id: key.id, expiresAt: inDays(30), overlapSeconds: 600 });
    const end = timestampDate((await keys().getAccountApiKey({ id: key.id })).apiKey!.previousValueExpiresAt!);
    // A verifier of its own (no sweep runs on it) whose clock the test sets.
    let now = new Date(end.getTime() - 1);
    const apiKeys = createApiKeyAuth({ ...t.server.app.deps, clock: () => now });
    const verify = () => apiKeys.verifiers[0]!.verify(key.value);
    const principal = await verify();
    expect(principal?.kind === "api_key" ? principal.expiresAt : undefined).toEqual(end);
    now = end;
    const refused = await errorOf(verify());
    expect(refused.code).toBe(Code.Unauthenticated);
    expect(refused.rawMessage).toBe("api key expired");
    await apiKeys.stop!();
  });

  it("writes the last use's IP and user agent with last_used_at's throttling (once a minute)", async () => {
    const T0 = new Date(Date.now() + 1000);
    let now = T0;
    const apiKeys = createApiKeyAuth({ ...t.server.app.deps, clock: () => now });
    const minted = await mintApiKey(t.database.db.kysely, DEFAULT_ACCOUNT_ID, { expiresAt: new Date(T0.getTime() + DAY) });
    const verify = (ip: string, userAgent: string) => apiKeys.verifiers[0]!.verify(minted.key, { clientIp: ip, userAgent });
    const row = () =>
      t.database.db.kysely
        .selectFrom("api_keys")
        .select(["last_used_at", "last_used_ip", "last_used_user_agent"])
        .where("id", "=", minted.id)
        .executeTakeFirstOrThrow();
    await verify("192.0.2.1", "first");
    expect((await row()).last_used_ip).toBeNull(); // not written per request
    await apiKeys.flushLastUsed();
    expect(await row()).toEqual({ last_used_at: T0, last_used_ip: "192.0.2.1", last_used_user_agent: "first" });
    now = new Date(T0.getTime() + 59_000);
    await verify("192.0.2.2", "second");
    await apiKeys.flushLastUsed();
    expect(await row()).toEqual({ last_used_at: T0, last_used_ip: "192.0.2.1", last_used_user_agent: "first" });
    now = new Date(T0.getTime() + 61_000);
    await verify("2001:db8::3", "third");
    await apiKeys.flushLastUsed();
    expect(await row()).toEqual({ last_used_at: now, last_used_ip: "2001:db8::3", last_used_user_agent: "third" });
  });
});

describe("api key rotation across instances on one PostgreSQL", () => {
  // Each server opens its own connections to the database.
  const t = useTessera({ ownDatabase: true });
  /** AUTH_MODE=none: manages keys as the anonymous admin. */
  const a = t.server;
  /** Two instances that authenticate with the keys. */
  const b = t.useServer({ env: { AUTH_MODE: "full" } });
  const c = t.useServer({ env: { AUTH_MODE: "full" } });
  const expiresAt = () => timestampFromDate(new Date(t.clock.now().getTime() + DAY));
  const check = (server: typeof b, token: string) => codeOf(server.client(AuthService, { token }).checkToken({}));

  it("RevokeOldAccountApiKeyValue stops the old value on every instance within one second", async () => {
    const created = await a.client(ApiKeyService).createAccountApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: "revoke old across", expiresAt: expiresAt() });
    const regen = await a.client(ApiKeyService).regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt: expiresAt(), overlapSeconds: 3600 });
    for (const s of [b, c]) {
      for (let i = 0; i < 3; i++) expect(await check(s, created.keyValue)).toBe("ok");
      expect(await check(s, regen.keyValue)).toBe("ok");
    }
    await a.client(ApiKeyService).revokeOldAccountApiKeyValue({ id: created.apiKey!.id });
    expect(await msUntilRejected(b, created.keyValue)).toBeLessThan(1000);
    expect(await msUntilRejected(c, created.keyValue)).toBeLessThan(1000);
    for (const s of [b, c]) expect(await check(s, regen.keyValue)).toBe("ok");
  });

  it("delete during an overlap stops both values on every instance within one second", async () => {
    const created = await a.client(ApiKeyService).createAccountApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: "delete across", expiresAt: expiresAt() });
    const regen = await a.client(ApiKeyService).regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt: expiresAt(), overlapSeconds: 3600 });
    for (const s of [b, c]) for (const v of [created.keyValue, regen.keyValue]) expect(await check(s, v)).toBe("ok");
    await a.client(ApiKeyService).deleteAccountApiKey({ id: created.apiKey!.id });
    for (const s of [b, c]) for (const v of [created.keyValue, regen.keyValue]) expect(await msUntilRejected(s, v)).toBeLessThan(1000);
  });
});
