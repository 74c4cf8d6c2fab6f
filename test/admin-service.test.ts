/**
 * AdminService (issue 19, oversight): an instance admin lists users (search with `%`
 * and `_` matching themselves, the disabled filter, complete and stable keyset paging),
 * sees one user's identities, sessions, accounts and keys, lists keys across accounts
 * (account, creator, expiring within N days, unused for N days) and revokes any key,
 * which stops working at once; every call is audited. Other users and every API key
 * (even one an instance admin made) are refused. Account admins see who created each
 * key; viewers only while the creator is a member. On PostgreSQL and PGlite.
 */
import { randomBytes } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { AdminService, GetUserDetailsResponseSchema, UserDisabledFilter } from "../packages/sdk/src/gen/tessera/v1/admin_pb.js";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, type SignedUp, useTessera } from "./harness.js";

const DAY = 86_400_000;

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe.each(DB_KINDS)("AdminService on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });
  let admin: SignedUp;
  let plain: SignedUp;
  const db = () => t.database.db.kysely;
  const adminClient = () => t.client(AdminService, { token: admin.accessToken });
  const keysOf = (u: SignedUp) => t.client(ApiKeyService, { token: u.accessToken });
  const accountsOf = (u: SignedUp) => t.client(UserAccountService, { token: u.accessToken });
  const inDays = (n: number) => timestampFromDate(new Date(t.clock.now().getTime() + n * DAY));
  const flushAudit = () => t.server.app.deps.audit.flush();

  /** Inserts human users in one statement: the same created_at, so only the id orders them. */
  async function insertUsers(emails: string[], names?: string[]): Promise<string[]> {
    const rows = await db()
      .insertInto("users")
      .values(emails.map((email, i) => ({ kind: "human" as const, email, email_normalized: email.toLowerCase(), name: names?.[i] ?? null })))
      .returning("id")
      .execute();
    return rows.map((r) => r.id);
  }

  /** Every user a search lists, page by page. */
  async function allPages(query: string, pageSize: number, between?: (page: number) => Promise<void>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const res = await adminClient().listUsers({ query, pageSize, pageToken: token });
      ids.push(...res.users.map((u) => u.id));
      token = res.nextPageToken;
      pages++;
      await between?.(pages);
      expect(pages).toBeLessThan(50);
    } while (token !== "");
    return { ids, pages };
  }

  beforeAll(async () => {
    admin = await t.signUp({ name: "Ada Admin", headers: { "user-agent": "admin-test-agent/1.0" } });
    await db().updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    plain = await t.signUp({ name: "Plain User" });
  });

  it("tells GetUser callers whether they are instance admins", async () => {
    expect((await accountsOf(admin).getUser({})).instanceAdmin).toBe(true);
    expect((await accountsOf(plain).getUser({})).instanceAdmin).toBe(false);
  });

  it("pages through 120 users completely and stably (no duplicate, none missing), newest first", async () => {
    const tag = randomBytes(4).toString("hex");
    const created = await insertUsers(Array.from({ length: 120 }, (_, i) => `page-${tag}-${i}@example.com`));
    const { ids, pages } = await allPages(`page-${tag}-`, 50);
    expect(pages).toBe(3);
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
    expect([...ids].sort()).toEqual([...created].sort());

    // Users added while paging are newer than the cursor: later pages neither repeat nor skip anyone.
    const again = await allPages(`page-${tag}-`, 50, async (page) => {
      if (page === 1) await insertUsers([`page-${tag}-late@example.com`]);
    });
    expect(again.ids).toHaveLength(120);
    expect([...again.ids].sort()).toEqual([...created].sort());
    // Newest first: the late user leads a fresh listing.
    const first = await adminClient().listUsers({ query: `page-${tag}-`, pageSize: 1 });
    expect(first.users[0]!.email).toBe(`page-${tag}-late@example.com`);
    // Default page size 50, at most 200.
    expect((await adminClient().listUsers({ query: `page-${tag}-` })).users).toHaveLength(50);
    expect(await codeOf(adminClient().listUsers({ pageSize: 201 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(adminClient().listUsers({ pageSize: -1 }))).toBe(Code.InvalidArgument);
  });

  it("refuses forged and foreign page tokens", async () => {
    const forged = [
      "not base64 json",
      Buffer.from(JSON.stringify({ l: "users", t: "'; drop table users; --", i: admin.userId })).toString("base64url"),
      Buffer.from(JSON.stringify({ l: "users", t: "2026-01-01 00:00:00+00", i: "nope" })).toString("base64url"),
      "a".repeat(500),
    ];
    for (const pageToken of forged) expect(await codeOf(adminClient().listUsers({ pageToken }))).toBe(Code.InvalidArgument);
    // A well-formed token of the other listing.
    const foreign = Buffer.from(JSON.stringify({ l: "api_keys", t: "2026-01-01 00:00:00.123456+00", i: admin.userId })).toString("base64url");
    expect(await codeOf(adminClient().listUsers({ pageToken: foreign }))).toBe(Code.InvalidArgument);
    const valid = Buffer.from(JSON.stringify({ l: "users", t: "2026-01-01 00:00:00.123456+00", i: admin.userId })).toString("base64url");
    expect(await codeOf(adminClient().listUsers({ pageToken: valid }))).toBe("ok");
  });

  it("finding: a page token with an impossible timestamp reached the database and answered Internal", async () => {
    // The shape passes the token's pattern, but PostgreSQL refuses the value (out of range).
    const impossible = [
      "2026-13-01 00:00:00+00",
      "2026-02-30 00:00:00+00",
      "2026-01-01 25:00:00+00",
      "2026-01-01 00:61:00+00",
      "0000-01-01 00:00:00+00",
      "2026-01-01 00:00:00+99",
    ];
    for (const t of impossible) {
      for (const l of ["users", "api_keys"] as const) {
        const pageToken = Buffer.from(JSON.stringify({ l, t, i: admin.userId })).toString("base64url");
        const call = l === "users" ? adminClient().listUsers({ pageToken }) : adminClient().listApiKeys({ pageToken });
        expect(await codeOf(call), `${l} ${t}`).toBe(Code.InvalidArgument);
      }
    }
    // A leap day and an offset with minutes are real timestamps.
    for (const t of ["2024-02-29 23:59:59.999999+00", "2026-01-01 00:00:00+05:30"]) {
      const pageToken = Buffer.from(JSON.stringify({ l: "users", t, i: admin.userId })).toString("base64url");
      expect(await codeOf(adminClient().listUsers({ pageToken })), t).toBe("ok");
    }
  });

  it("searches email and name case-insensitively, with % and _ matching only themselves", async () => {
    const tag = randomBytes(4).toString("hex");
    const [pct, notPct, under, notUnder, named] = await insertUsers(
      [`x${tag}a%b@example.com`, `x${tag}axb@example.com`, `x${tag}u_v@example.com`, `x${tag}uxv@example.com`, `someone-${tag}@example.com`],
      [null, null, null, null, `Grace ${tag} Hopper`] as unknown as string[],
    );
    const search = async (query: string) => (await adminClient().listUsers({ query })).users.map((u) => u.id).sort();
    expect(await search(`x${tag}a%b`)).toEqual([pct]);
    expect(await search(`${tag}a%`)).toEqual([pct]);
    expect(await search(`x${tag}u_v`)).toEqual([under]);
    expect(await search(`X${tag.toUpperCase()}A`)).toEqual([pct, notPct].sort());
    expect(await search(`x${tag}u`)).toEqual([under, notUnder].sort());
    expect(await search(`grace ${tag.toUpperCase()} HOPPER`)).toEqual([named]);
    expect(await search(`${tag}\\`)).toEqual([]);
    expect(await search("%")).not.toContain(notPct);
    expect(await codeOf(adminClient().listUsers({ query: "a".repeat(201) }))).toBe(Code.InvalidArgument);
  });

  it("filters by disabled, and shows the user's flags", async () => {
    const tag = randomBytes(4).toString("hex");
    const [on, off] = await insertUsers([`dis-${tag}-on@example.com`, `dis-${tag}-off@example.com`]);
    await t.client(AuthService, { token: admin.accessToken }).setUserDisabled({ userId: off!, disabled: true });
    const ids = async (disabled: UserDisabledFilter) => (await adminClient().listUsers({ query: `dis-${tag}`, disabled })).users.map((u) => u.id).sort();
    expect(await ids(UserDisabledFilter.ONLY)).toEqual([off]);
    expect(await ids(UserDisabledFilter.NONE)).toEqual([on]);
    expect(await ids(UserDisabledFilter.ANY)).toEqual([on, off].sort());
    expect(await ids(UserDisabledFilter.UNSPECIFIED)).toEqual([on, off].sort());
    const listed = (await adminClient().listUsers({ query: `dis-${tag}-off` })).users[0]!;
    expect(listed).toMatchObject({ disabled: true, instanceAdmin: false, emailVerified: false, hasPassword: false });
    expect(listed.disabledAt).toBeDefined();
    const me = (await adminClient().listUsers({ query: admin.email })).users[0]!;
    expect(me).toMatchObject({ id: admin.userId, instanceAdmin: true, emailVerified: true, hasPassword: true, disabled: false, name: "Ada Admin" });
    expect(me.lastSignInAt).toBeDefined();
    expect(await codeOf(adminClient().listUsers({ disabled: 99 as UserDisabledFilter }))).toBe(Code.InvalidArgument);
  });

  it("shows a user's identities, sessions, accounts and keys, never a token", async () => {
    const u = await t.signUp({ name: "Detailed", headers: { "user-agent": "detail-agent/2.0" } });
    const team = (await accountsOf(u).createTeamAccount({ name: `Details ${randomBytes(3).toString("hex")}` })).account!;
    const key = await keysOf(u).createAccountApiKey({ accountId: team.id, name: "detail key", expiresAt: inDays(30) });
    await db()
      .insertInto("identities")
      .values({ user_id: u.userId, issuer: "https://idp.example.com", subject: "sub-123", email: u.email, email_verified: true })
      .execute();
    const res = await adminClient().getUserDetails({ userId: u.userId });
    expect(res.user).toMatchObject({ id: u.userId, email: u.email, name: "Detailed" });
    expect(res.identities).toEqual([expect.objectContaining({ issuer: "https://idp.example.com", subject: "sub-123", email: u.email })]);
    expect(res.sessions).toHaveLength(1);
    expect(res.sessions[0]).toMatchObject({ userAgent: "detail-agent/2.0", current: false });
    expect(res.sessions[0]!.clientIp).not.toBe("");
    expect(timestampDate(res.sessions[0]!.expiresAt!).getTime()).toBeGreaterThan(Date.now());
    expect(res.accounts.map((a) => [a.id, a.role])).toContainEqual([team.id, AccountRole.ADMIN]);
    expect(res.apiKeys).toEqual([
      expect.objectContaining({ accountName: team.name, apiKey: expect.objectContaining({ id: key.apiKey!.id, createdByEmail: u.email }) }),
    ]);
    const wire = JSON.stringify(toJson(GetUserDetailsResponseSchema, res));
    expect(wire).not.toContain(u.refreshToken);
    expect(wire).not.toContain(key.keyValue);

    expect(await codeOf(adminClient().getUserDetails({ userId: "3f1c9a4e-0000-4000-8000-000000000000" }))).toBe(Code.NotFound);
    expect(await codeOf(adminClient().getUserDetails({ userId: key.apiKey!.userId }))).toBe(Code.NotFound); // a machine user
    expect(await codeOf(adminClient().getUserDetails({ userId: "nope" }))).toBe(Code.InvalidArgument);
  });

  it("audits every admin call with the admin as actor", async () => {
    await adminClient().listUsers({ query: "audit-probe" });
    await adminClient().getUserDetails({ userId: plain.userId });
    await adminClient().listApiKeys({ unusedForDays: 3 });
    await flushAudit();
    const rows = await db()
      .selectFrom("audit_events")
      .select(["action", "metadata"])
      .where("actor_user_id", "=", admin.userId)
      .where("action", "like", "admin.%")
      .execute();
    const actions = new Set(rows.map((r) => r.action));
    expect(actions).toEqual(new Set(["admin.users.list", "admin.user.view", "admin.api_keys.list"]));
    expect(rows.some((r) => r.action === "admin.users.list" && (r.metadata as Record<string, unknown>).query === "audit-probe")).toBe(true);
    expect(rows.some((r) => r.action === "admin.user.view" && (r.metadata as Record<string, unknown>).target_user_id === plain.userId)).toBe(true);
  });

  it("refuses other users, API keys (even an instance admin's) and anonymous callers", async () => {
    const personal = (await accountsOf(admin).setPersonalAccount({})).account!.id;
    const adminKey = await keysOf(admin).createAccountApiKey({ accountId: personal, name: "admin's key", expiresAt: inDays(5) });
    for (const token of [plain.accessToken, adminKey.keyValue]) {
      const c = t.client(AdminService, { token });
      expect(await codeOf(c.listUsers({}))).toBe(Code.PermissionDenied);
      expect(await codeOf(c.getUserDetails({ userId: plain.userId }))).toBe(Code.PermissionDenied);
      expect(await codeOf(c.listApiKeys({}))).toBe(Code.PermissionDenied);
      expect(await codeOf(c.revokeApiKey({ id: adminKey.apiKey!.id }))).toBe(Code.PermissionDenied);
    }
    expect(await codeOf(t.client(AdminService).listUsers({}))).toBe(Code.Unauthenticated);
    // The key survived every refused revoke.
    expect(await codeOf(t.client(AuthService, { token: adminKey.keyValue }).checkToken({}))).toBe("ok");
  });

  describe("keys across accounts", () => {
    let owner: SignedUp;
    let other: SignedUp;
    let teamId = "";
    let otherAccount = "";
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      owner = await t.signUp({ name: "Key Owner" });
      other = await t.signUp({ name: "Other Owner" });
      teamId = (await accountsOf(owner).createTeamAccount({ name: "Key Team" })).account!.id;
      otherAccount = (await accountsOf(other).setPersonalAccount({})).account!.id;
      const make = async (u: SignedUp, accountId: string, name: string, days: number) =>
        (ids[name] = (await keysOf(u).createAccountApiKey({ accountId, name, expiresAt: inDays(days) })).apiKey!.id);
      await make(owner, teamId, "soon", 5);
      await make(owner, teamId, "later", 200);
      await make(owner, teamId, "stale", 300);
      await make(owner, teamId, "fresh", 300);
      await make(other, otherAccount, "theirs", 10);
      const now = t.clock.now().getTime();
      // stale: created 90 days ago, last used 40 days ago; fresh: used yesterday; the others never used (created 90 days ago).
      await db()
        .updateTable("api_keys")
        .set({ created_at: new Date(now - 90 * DAY) } as never)
        .where("id", "in", Object.values(ids))
        .execute();
      await db()
        .updateTable("api_keys")
        .set({ last_used_at: new Date(now - 40 * DAY) })
        .where("id", "=", ids.stale!)
        .execute();
      await db()
        .updateTable("api_keys")
        .set({ last_used_at: new Date(now - 1 * DAY) })
        .where("id", "=", ids.fresh!)
        .execute();
      await db()
        .updateTable("api_keys")
        .set({ created_at: new Date(now - 1 * DAY) } as never)
        .where("id", "=", ids.fresh!)
        .execute();
    });

    const names = async (req: Parameters<ReturnType<typeof adminClient>["listApiKeys"]>[0]) => {
      const res = await adminClient().listApiKeys({ pageSize: 200, ...req });
      const wanted = new Set(Object.values(ids));
      return res.apiKeys
        .filter((k) => wanted.has(k.apiKey!.id))
        .map((k) => k.apiKey!.name)
        .sort();
    };

    it("filters by account, creator, expiring within N days and unused for N days", async () => {
      expect(await names({})).toEqual(["fresh", "later", "soon", "stale", "theirs"]);
      expect(await names({ accountId: teamId })).toEqual(["fresh", "later", "soon", "stale"]);
      expect(await names({ createdByUserId: other.userId })).toEqual(["theirs"]);
      expect(await names({ expiringWithinDays: 7 })).toEqual(["soon"]);
      expect(await names({ expiringWithinDays: 14 })).toEqual(["soon", "theirs"]);
      expect(await names({ expiringWithinDays: 14, accountId: teamId })).toEqual(["soon"]);
      expect(await names({ unusedForDays: 30 })).toEqual(["later", "soon", "stale", "theirs"]);
      expect(await names({ unusedForDays: 60 })).toEqual(["later", "soon", "theirs"]);
      expect(await codeOf(adminClient().listApiKeys({ accountId: "x" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(adminClient().listApiKeys({ expiringWithinDays: -1 }))).toBe(Code.InvalidArgument);
      expect(await codeOf(adminClient().listApiKeys({ unusedForDays: 3651 }))).toBe(Code.InvalidArgument);
    });

    it("shows each key's account and creator, and pages keys completely", async () => {
      const res = await adminClient().listApiKeys({ accountId: teamId });
      expect(res.apiKeys.every((k) => k.accountName === "Key Team" && k.apiKey!.createdByEmail === owner.email)).toBe(true);
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await adminClient().listApiKeys({ accountId: teamId, pageSize: 3, pageToken });
        expect(page.apiKeys.length).toBeLessThanOrEqual(3);
        seen.push(...page.apiKeys.map((k) => k.apiKey!.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen.sort()).toEqual([ids.soon, ids.later, ids.stale, ids.fresh].sort());
    });

    it("revokes any key: it stops working on the same path as DeleteAccountApiKey, audited with the admin as actor", async () => {
      const key = await keysOf(other).createAccountApiKey({ accountId: otherAccount, name: "to revoke", expiresAt: inDays(30) });
      const check = () => codeOf(t.client(AuthService, { token: key.keyValue }).checkToken({}));
      expect(await check()).toBe("ok");
      const res = await adminClient().revokeApiKey({ id: key.apiKey!.id });
      expect(res.revocationSequence).toBeGreaterThan(0n);
      await expect.poll(check, { timeout: 5000, interval: 50 }).toBe(Code.Unauthenticated);
      expect(await codeOf(keysOf(other).getAccountApiKey({ id: key.apiKey!.id }))).toBe(Code.NotFound);
      expect(await codeOf(adminClient().revokeApiKey({ id: key.apiKey!.id }))).toBe(Code.NotFound);
      expect(await codeOf(adminClient().revokeApiKey({ id: "nope" }))).toBe(Code.InvalidArgument);
      await flushAudit();
      const events = await db()
        .selectFrom("audit_events")
        .selectAll()
        .where("action", "=", "apikey.delete.success")
        .where(sql<boolean>`metadata->>'api_key_id' = ${key.apiKey!.id}`)
        .execute();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ actor_user_id: admin.userId, account_id: otherAccount, metadata: { by_instance_admin: true, name: "to revoke" } });
      expect(JSON.stringify(events[0])).not.toContain(key.keyValue.slice(4));
    });

    it("shows the creator's email to account admins, and to viewers only while the creator is a member", async () => {
      const creator = await t.signUp({ name: "Creator" });
      const viewer = await t.signUp({ name: "Viewer" });
      for (const [u, role] of [
        [creator, AccountRole.ADMIN],
        [viewer, AccountRole.VIEWER],
      ] as const) {
        const inv = await accountsOf(owner).inviteUserToTeamAccount({ accountId: teamId, email: u.email, role });
        await accountsOf(u).acceptTeamAccountInvite({ token: inv.token });
      }
      const key = await keysOf(creator).createAccountApiKey({ accountId: teamId, name: "by creator", expiresAt: inDays(30) });
      const emailSeenBy = async (u: SignedUp) => {
        const one = (await keysOf(u).getAccountApiKey({ id: key.apiKey!.id })).apiKey!.createdByEmail;
        const listed = (await keysOf(u).getAccountApiKeys({ accountId: teamId })).apiKeys.find((k) => k.id === key.apiKey!.id)!.createdByEmail;
        expect(listed).toBe(one);
        return one;
      };
      expect(await emailSeenBy(owner)).toBe(creator.email);
      expect(await emailSeenBy(viewer)).toBe(creator.email);
      await accountsOf(owner).removeTeamAccountMember({ accountId: teamId, userId: creator.userId });
      expect(await emailSeenBy(owner)).toBe(creator.email);
      expect(await emailSeenBy(viewer)).toBe("");
    });
    it("moves with the server's clock: a key expiring in 200 days expires within 7 after 195 days", async () => {
      // Last in the file: the clock only moves forward.
      t.clock.advance(195 * 86_400);
      // The admin's access token has expired on the moved clock: sign in again.
      const fresh = await t.client(AuthService).login({ email: admin.email, password: admin.password });
      const res = await t.client(AdminService, { token: fresh.tokens!.accessToken }).listApiKeys({ expiringWithinDays: 7, accountId: teamId });
      expect(res.apiKeys.map((k) => k.apiKey!.name)).toEqual(["later"]);
    });
  });
});
