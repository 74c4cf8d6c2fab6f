/**
 * The revocation log and RevocationService (issue 16), on PostgreSQL and PGlite: every
 * revoking RPC records its events and returns their sequence; WatchRevocations streams
 * history after a cursor, then live events and heartbeats, resumes without loss, resets
 * a cursor older than the history kept; AckRevocations and GetRevocationStatus name
 * laggards; only instance admins and keys an instance admin created may call it.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "./harness.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { RevocationService, type WatchRevocationsResponse } from "../packages/sdk/src/gen/tessera/v1/revocation_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { readRevocations, revocationHead } from "../packages/server/src/store/revocation-log.js";
import { deleteExpiredSigningKeys } from "../packages/server/src/store/signing-keys.js";
import { mintApiKey } from "./helpers/principals.js";
import { codeOf } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Reads a stream message by message, with a deadline per message. */
function reader(stream: AsyncIterable<WatchRevocationsResponse>) {
  const it = stream[Symbol.asyncIterator]();
  return {
    async next(ms = 5000): Promise<WatchRevocationsResponse> {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([it.next(), new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`no message within ${ms} ms`)), ms)))]);
      clearTimeout(timer);
      if (r.done) throw new Error("stream ended");
      return r.value;
    },
    /** Messages until one carries events (heartbeats skipped); returns the events. */
    async events(ms = 5000) {
      for (;;) {
        const m = await this.next(ms);
        if (m.events.length > 0) return m;
      }
    },
    close: () => it.return?.(),
  };
}

describe.each(DB_KINDS)("revocation log and RevocationService (%s)", (kind) => {
  const tessera = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });
  let adminToken = "";
  let adminId = "";
  let accountId = "";

  const client = <S extends DescService>(s: S, token?: string) => tessera.client(s, { token });
  const revocation = (token = adminToken) => client(RevocationService, token);
  const inAMonth = () => timestampFromDate(new Date(Date.now() + 30 * 86_400_000));

  async function signUp(name: string) {
    const u = await tessera.signUp({ email: `${name}-${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name });
    return { email: u.email, token: u.accessToken, refresh: u.refreshToken, userId: u.userId };
  }
  const eventsAfter = async (seq: number) => (await readRevocations(tessera.database.db.kysely, seq, 1000)).map((r) => [r.kind, r.target]);
  const head = async () => (await revocationHead(tessera.database.db.kysely)).head;

  beforeAll(async () => {
    const admin = await signUp("admin");
    await tessera.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    adminToken = admin.token;
    adminId = admin.userId;
    accountId = (await client(UserAccountService, adminToken).createTeamAccount({ name: "Revocations" })).account!.id;
  });

  it("records API-key deletes and regenerates (SHA-256 of the whole key) and returns their sequence", async () => {
    const keys = client(ApiKeyService, adminToken);
    const created = await keys.createAccountApiKey({ accountId, name: `k ${randomBytes(3).toString("hex")}`, expiresAt: inAMonth() });
    const before = await head();
    const regen = await keys.regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt: inAMonth() });
    expect(Number(regen.revocationSequence)).toBeGreaterThan(before);
    expect(await eventsAfter(before)).toEqual([["api_key", sha256(created.keyValue)]]);
    const machineUser = (
      await tessera.database.db.kysely.selectFrom("api_keys").select("user_id").where("id", "=", created.apiKey!.id).executeTakeFirstOrThrow()
    ).user_id;
    const del = await keys.deleteAccountApiKey({ id: created.apiKey!.id });
    expect(Number(del.revocationSequence)).toBeGreaterThan(Number(regen.revocationSequence));
    expect(await eventsAfter(Number(regen.revocationSequence))).toEqual([
      ["api_key", sha256(regen.keyValue)],
      ["user", machineUser],
    ]);
  });

  it("records sessions ended by logout, RevokeSession, RevokeAllSessions, refresh reuse, a password change and an admin", async () => {
    const u = await signUp("sessions");
    const auth = (t?: string) => client(AuthService, t);
    const login = async () => (await auth().login({ email: u.email, password: PASSWORD })).tokens!;
    const sid = async (refresh: string) =>
      (await tessera.database.db.kysely.selectFrom("refresh_tokens").select("family_id").where("token_hash", "=", sha256(refresh)).executeTakeFirstOrThrow())
        .family_id;

    let mark = await head();
    const a = await login();
    const out = await auth().logout({ refreshToken: a.refreshToken });
    expect(Number(out.revocationSequence)).toBeGreaterThan(mark);
    expect(await eventsAfter(mark)).toEqual([["session", await sid(a.refreshToken)]]);

    mark = await head();
    const b = await login();
    const one = await auth(u.token).revokeSession({ id: await sid(b.refreshToken) });
    expect(Number(one.revocationSequence)).toBeGreaterThan(mark);
    expect(await eventsAfter(mark)).toEqual([["session", await sid(b.refreshToken)]]);

    // Reuse of a rotated refresh token (after the grace window is not needed: the successor was rotated too).
    const c = await login();
    const c2 = (await auth().refreshToken({ refreshToken: c.refreshToken })).tokens!;
    await auth().refreshToken({ refreshToken: c2.refreshToken });
    mark = await head();
    expect(await codeOf(auth().refreshToken({ refreshToken: c.refreshToken }))).toBe(Code.Unauthenticated);
    expect(await eventsAfter(mark)).toEqual([["session", await sid(c.refreshToken)]]);

    const d = await login();
    const e = await login();
    mark = await head();
    const changed = await auth(d.accessToken).changePassword({ currentPassword: PASSWORD, newPassword: `${PASSWORD} again` });
    expect(Number(changed.revocationSequence)).toBeGreaterThan(mark);
    const ended = await eventsAfter(mark);
    expect(ended).toContainEqual(["session", await sid(e.refreshToken)]);
    expect(ended).not.toContainEqual(["session", await sid(d.refreshToken)]); // the caller's own session stays

    mark = await head();
    const all = await auth(d.accessToken).revokeAllSessions({});
    expect(Number(all.revocationSequence)).toBeGreaterThan(mark);
    expect(await eventsAfter(mark)).toEqual([["session", await sid(d.refreshToken)]]);

    const f = (await auth().login({ email: u.email, password: `${PASSWORD} again` })).tokens!;
    mark = await head();
    const byAdmin = await auth(adminToken).revokeUserSessions({ userId: u.userId });
    expect(Number(byAdmin.revocationSequence)).toBeGreaterThan(mark);
    expect(await eventsAfter(mark)).toEqual([["session", await sid(f.refreshToken)]]);
  });

  it("records a disabled user, and each key of a disabled machine user; re-enabling records nothing", async () => {
    const u = await signUp("disabled");
    let mark = await head();
    const res = await client(AuthService, adminToken).setUserDisabled({ userId: u.userId, disabled: true });
    expect(Number(res.revocationSequence)).toBeGreaterThan(mark);
    expect(await eventsAfter(mark)).toEqual(
      expect.arrayContaining([
        ["user", u.userId],
        ["session", expect.any(String)],
      ]),
    );
    const minted = await mintApiKey(tessera.database.db.kysely, accountId);
    mark = await head();
    await client(AuthService, adminToken).setUserDisabled({ userId: minted.userId, disabled: true });
    expect(await eventsAfter(mark)).toEqual([
      ["user", minted.userId],
      ["api_key", sha256(minted.key)],
    ]);
    mark = await head();
    const enabled = await client(AuthService, adminToken).setUserDisabled({ userId: minted.userId, disabled: false });
    expect(enabled.revocationSequence).toBe(0n);
    expect(await head()).toBe(mark);
  });

  it("records a signing key withdrawn (deleted once no longer published)", async () => {
    const kid = `retired-${randomBytes(4).toString("hex")}`;
    await tessera.database.db.kysely
      .insertInto("signing_keys")
      .values({
        id: kid,
        alg: "ES256",
        private_jwk: JSON.stringify({}),
        public_jwk: JSON.stringify({}),
        retired_at: new Date(Date.now() - 7200_000),
        publish_until: new Date(Date.now() - 3600_000),
      })
      .execute();
    const mark = await head();
    expect(await deleteExpiredSigningKeys(tessera.database.db.kysely, new Date())).toBe(1);
    expect(await eventsAfter(mark)).toEqual([["signing_key", kid]]);
  });

  it("streams the history after a cursor, then live events, with heartbeats carrying the head", async () => {
    const mark = await head();
    const k1 = await mintApiKey(tessera.database.db.kysely, accountId);
    const k2 = await mintApiKey(tessera.database.db.kysely, accountId);
    const keys = client(ApiKeyService, adminToken);
    const d1 = await keys.deleteAccountApiKey({ id: k1.id });
    const abort = new AbortController();
    const s = reader(revocation().watchRevocations({ afterSequence: BigInt(mark), subscriberName: "history test" }, { signal: abort.signal }));
    const first = await s.next();
    expect(first.reset).toBe(false);
    expect(first.subscriberId).toMatch(/^[0-9a-f-]{36}$/);
    const hist = first.events.length > 0 ? first : await s.events();
    expect(hist.events.map((e) => e.target.case === "apiKeySha256" && e.target.value)).toContain(sha256(k1.key));
    expect(hist.events.at(-1)!.sequence).toBe(d1.revocationSequence);
    // Live: an event made after the stream caught up.
    const d2 = await keys.deleteAccountApiKey({ id: k2.id });
    const live = await s.events();
    expect(live.events[0]!.target).toEqual({ case: "apiKeySha256", value: sha256(k2.key) });
    expect(live.events.at(-1)!.sequence).toBe(d2.revocationSequence);
    expect(live.subscriberId).toBe(first.subscriberId);
    // Heartbeats: no events, the head, within a second each.
    for (let i = 0; i < 3; i++) {
      const hb = await s.next(1000);
      expect(hb.events).toEqual([]);
      expect(hb.headSequence).toBe(d2.revocationSequence);
    }
    abort.abort();
  });

  it("resumes from a cursor without losing events made while disconnected; 0 starts at the head", async () => {
    const keys = client(ApiKeyService, adminToken);
    const abort = new AbortController();
    const s = reader(revocation().watchRevocations({ afterSequence: 0n, subscriberName: "resume test" }, { signal: abort.signal }));
    const first = await s.next();
    expect(first.events).toEqual([]);
    expect(Number(first.headSequence)).toBe(await head());
    abort.abort();
    const minted = await Promise.all([0, 1, 2].map(() => mintApiKey(tessera.database.db.kysely, accountId)));
    for (const m of minted) await keys.deleteAccountApiKey({ id: m.id });
    const again = new AbortController();
    const r = reader(revocation().watchRevocations({ afterSequence: first.headSequence, subscriberName: "resume test" }, { signal: again.signal }));
    const seen: string[] = [];
    while (seen.filter((x) => x.length === 64).length < 3) {
      const m = await r.next();
      for (const e of m.events) if (e.target.case === "apiKeySha256" || e.target.case === "userId") seen.push(e.target.value);
    }
    expect(seen.filter((x) => x.length === 64)).toEqual(minted.map((m) => sha256(m.key)));
    again.abort();
  });

  it("resets a cursor older than the history kept (or from the future)", async () => {
    const h = await head();
    await tessera.database.db.kysely.updateTable("revocation_log_state").set({ pruned_through: h }).execute();
    try {
      for (const after of [1n, BigInt(h + 1000)]) {
        const abort = new AbortController();
        const s = reader(revocation().watchRevocations({ afterSequence: after, subscriberName: "reset test" }, { signal: abort.signal }));
        const first = await s.next();
        expect(first.reset).toBe(true);
        expect(Number(first.headSequence)).toBe(h);
        abort.abort();
      }
    } finally {
      await tessera.database.db.kysely.updateTable("revocation_log_state").set({ pruned_through: 0 }).execute();
    }
  });

  it("names laggards until they acknowledge; instances report what they applied", async () => {
    const abort = new AbortController();
    const mark = await head();
    const s = reader(revocation().watchRevocations({ afterSequence: BigInt(mark), subscriberName: "billing-api pod-7" }, { signal: abort.signal }));
    const { subscriberId } = await s.next();
    const minted = await mintApiKey(tessera.database.db.kysely, accountId);
    const del = await client(ApiKeyService, adminToken).deleteAccountApiKey({ id: minted.id });
    const status = await revocation().getRevocationStatus({ sequence: del.revocationSequence });
    expect(status.appliedEverywhere).toBe(false);
    expect(status.lagging.map((p) => p.name)).toContain(`billing-api pod-7 (${subscriberId})`);
    expect(status.participants.some((p) => p.kind === "instance" && p.appliedSequence >= del.revocationSequence)).toBe(true);
    await s.events();
    await revocation().ackRevocations({ subscriberId, appliedSequence: del.revocationSequence });
    const after = await revocation().getRevocationStatus({ sequence: del.revocationSequence });
    expect(after.lagging.filter((p) => p.kind === "subscriber" && p.name.includes(subscriberId))).toEqual([]);
    expect(after.headSequence).toBeGreaterThanOrEqual(del.revocationSequence);
    expect(await codeOf(revocation().ackRevocations({ subscriberId: "00000000-0000-4000-8000-000000000000", appliedSequence: 1n }))).toBe(Code.NotFound);
    expect(await codeOf(revocation().ackRevocations({ subscriberId: "nope", appliedSequence: 1n }))).toBe(Code.InvalidArgument);
    abort.abort();
  });

  it("lets instance admins and keys an instance admin created watch; refuses ordinary users and their keys", async () => {
    const adminKey = await mintApiKey(tessera.database.db.kysely, accountId, { createdById: adminId });
    const someone = await signUp("ordinary");
    const ordinaryKey = await mintApiKey(tessera.database.db.kysely, accountId, { createdById: someone.userId });
    const firstOf = async (token: string | undefined) => {
      try {
        const abort = new AbortController();
        const s = reader(revocation(token as string).watchRevocations({ subscriberName: "authz" }, { signal: abort.signal }));
        await s.next();
        abort.abort();
        return "ok";
      } catch (e) {
        return ConnectError.from(e).code;
      }
    };
    expect(await firstOf(adminToken)).toBe("ok");
    expect(await firstOf(adminKey.key)).toBe("ok");
    expect(await codeOf(revocation(adminKey.key).getRevocationStatus({}))).toBe("ok");
    expect(await firstOf(ordinaryKey.key)).toBe(Code.PermissionDenied);
    expect(await firstOf(someone.token)).toBe(Code.PermissionDenied);
    expect(await codeOf(revocation(ordinaryKey.key).getRevocationStatus({}))).toBe(Code.PermissionDenied);
    // A key stops watching when its creator stops being an instance admin.
    await tessera.database.db.kysely.updateTable("users").set({ is_instance_admin: false }).where("id", "=", someone.userId).execute();
    expect(await codeOf(revocation("").getRevocationStatus({}))).toBe(Code.Unauthenticated);
    expect(await firstOf(adminToken)).toBe("ok");
    const bad = reader(revocation().watchRevocations({ subscriberName: "" }));
    await expect(bad.next()).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("ends a stream with Unauthenticated once its own credential is revoked (the watch key deleted, the admin's session ended)", async () => {
    const endsAfter = async (token: string, revoke: () => Promise<unknown>) => {
      const abort = new AbortController();
      const s = reader(revocation(token).watchRevocations({ subscriberName: "revoked watcher" }, { signal: abort.signal }));
      await s.next();
      await revoke();
      try {
        // Heartbeats keep coming while it stays open: give it 5 s to end.
        for (const until = Date.now() + 5000; Date.now() < until; ) await s.next();
        return "still open";
      } catch (e) {
        return ConnectError.from(e).code;
      } finally {
        abort.abort();
      }
    };
    const key = await mintApiKey(tessera.database.db.kysely, accountId, { createdById: adminId });
    expect(await endsAfter(key.key, () => client(ApiKeyService, adminToken).deleteAccountApiKey({ id: key.id }))).toBe(Code.Unauthenticated);
    const admin2 = await signUp("admin2");
    await tessera.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin2.userId).execute();
    expect(await endsAfter(admin2.token, () => client(AuthService, admin2.token).logout({ refreshToken: admin2.refresh }))).toBe(Code.Unauthenticated);
    // Another watcher's stream goes on.
    const abort = new AbortController();
    const other = reader(revocation().watchRevocations({ subscriberName: "bystander" }, { signal: abort.signal }));
    await other.next();
    await client(ApiKeyService, adminToken).deleteAccountApiKey({ id: (await mintApiKey(tessera.database.db.kysely, accountId, { createdById: adminId })).id });
    expect((await other.events()).events.length).toBeGreaterThan(0);
    abort.abort();
  });

  it("finding: a revocation stream opened with a key's old value outlives its revocation (RevokeOld, a regenerate)", async () => {
    const endsAfter = async (token: string, revoke: () => Promise<unknown>) => {
      const abort = new AbortController();
      const s = reader(revocation(token).watchRevocations({ subscriberName: "rotated watcher" }, { signal: abort.signal }));
      await s.next();
      await revoke();
      try {
        for (const until = Date.now() + 5000; Date.now() < until; ) await s.next();
        return "still open";
      } catch (e) {
        return ConnectError.from(e).code;
      } finally {
        abort.abort();
      }
    };
    const keys = client(ApiKeyService, adminToken);
    const expiresAt = inAMonth();
    // RevokeOld: the old value's stream ends; one opened with the new value goes on.
    const key = await mintApiKey(tessera.database.db.kysely, accountId, { createdById: adminId });
    const regen = await keys.regenerateAccountApiKey({ id: key.id, expiresAt, overlapSeconds: 3600 });
    expect(await endsAfter(key.key, () => keys.revokeOldAccountApiKeyValue({ id: key.id }))).toBe(Code.Unauthenticated);
    // A regenerate without an overlap ends the stream of the value it replaced.
    expect(await endsAfter(regen.keyValue, () => keys.regenerateAccountApiKey({ id: key.id, expiresAt }))).toBe(Code.Unauthenticated);
  });

  it("finding: a revocation stream opened with an API key outlives the key's expiry (or an old value's overlap end)", async () => {
    const key = await mintApiKey(tessera.database.db.kysely, accountId, { createdById: adminId, expiresAt: new Date(Date.now() + 1500) });
    const abort = new AbortController();
    const s = reader(revocation(key.key).watchRevocations({ subscriberName: "expiring watcher" }, { signal: abort.signal }));
    await s.next();
    let outcome: string | Code = "still open";
    try {
      for (const until = Date.now() + 6000; Date.now() < until; ) await s.next();
    } catch (e) {
      outcome = ConnectError.from(e).code;
    } finally {
      abort.abort();
    }
    expect(outcome).toBe(Code.Unauthenticated);
  });

  it("ends open streams when the server shuts down, without waiting for the drain timeout", async () => {
    const other = await tessera.startServer({ env: { AUTH_MODE: "full", SHUTDOWN_TIMEOUT_SECONDS: "30" } });
    const s = reader(
      createClient(RevocationService, other.transport("connect", { authorization: `Bearer ${adminToken}` })).watchRevocations({
        subscriberName: "shutdown test",
      }),
    );
    await s.next();
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(10_000);
    await expect(s.next(5000)).rejects.toThrow();
  });
});
