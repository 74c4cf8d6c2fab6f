/**
 * Accounts, teams, invites and roles between real users (AUTH_MODE=full, password
 * sign-up) on PostgreSQL, with the audit events the flow leaves; then the races:
 * concurrent SetPersonalAccount, concurrent invite acceptance, two admins demoting
 * each other. The core flow also runs on PGlite.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Code, type Client } from "@connectrpc/connect";
import { AccountRole, AccountType, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, useTessera, type Tessera } from "./harness.js";
import { codeOf } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";

interface RealUser {
  userId: string;
  email: string;
  token: string;
  /** A UserAccountService client with the user's token, from a fresh client IP. */
  ua: () => Client<typeof UserAccountService>;
}

const AGENT = { "user-agent": "accounts-flow-test/1.0" };

async function signUp(t: Tessera, name: string, email = `${name.toLowerCase()}-${randomBytes(4).toString("hex")}@example.com`): Promise<RealUser> {
  const { userId, accessToken: token } = await t.signUp({ email, password: PASSWORD, name, headers: AGENT });
  return { userId, email, token, ua: () => t.client(UserAccountService, { token, headers: AGENT }) };
}

describe.each(DB_KINDS)("invite flow between two real users on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });

  it("invite, list, accept, role change, remove, with the audit events it left", async () => {
    const alice = await signUp(t, "Alice");
    const bob = await signUp(t, "Bob");
    const carol = await signUp(t, "Carol");

    const me = await bob.ua().getUser({});
    expect(me).toMatchObject({ userId: bob.userId, email: bob.email, name: "Bob" });
    expect((await bob.ua().setUser({})).userId).toBe(bob.userId);
    // Sign-up made the personal account; SetPersonalAccount returns it.
    const personal = (await bob.ua().setPersonalAccount({})).account!;
    expect(personal).toMatchObject({ type: AccountType.PERSONAL, role: AccountRole.ADMIN });

    const team = (await alice.ua().createTeamAccount({ name: "Acme" })).account!;
    expect(team).toMatchObject({ name: "Acme", type: AccountType.TEAM, role: AccountRole.ADMIN });
    // Another user may have a team of the same name.
    expect((await bob.ua().createTeamAccount({ name: "Acme" })).account?.id).not.toBe(team.id);

    // Bob is not in the team yet: no data, only the right codes.
    expect((await bob.ua().isUserInAccount({ accountId: team.id })).ok).toBe(false);
    expect(await codeOf(bob.ua().getTeamAccountMembers({ accountId: team.id }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.ua().getAccountAuditEvents({ accountId: team.id }))).toBe(Code.PermissionDenied);

    // The invited email differs in case and compatibility form (NFKC folds the fullwidth "Ｂ").
    const invitedAs = `\uFF22${bob.email.slice(1).toUpperCase()}`;
    const invite = await alice.ua().inviteUserToTeamAccount({ accountId: team.id, email: invitedAs, role: AccountRole.MEMBER });
    expect(invite.token).toMatch(/^tsi_/);
    const listed = await alice.ua().getTeamAccountInvites({ accountId: team.id });
    expect(listed.invites.map((i) => i.id)).toEqual([invite.invite!.id]);
    expect(listed.invites[0]).toMatchObject({ email: invitedAs, role: AccountRole.MEMBER, createdById: alice.userId });

    // Non-members reach the invite id: NotFound, as for an unknown id.
    expect(await codeOf(bob.ua().removeTeamAccountInvite({ id: invite.invite!.id }))).toBe(Code.NotFound);
    // Someone else's email: refused.
    expect(await codeOf(carol.ua().acceptTeamAccountInvite({ token: invite.token }))).toBe(Code.PermissionDenied);

    const accepted = await bob.ua().acceptTeamAccountInvite({ token: invite.token });
    expect(accepted.account).toMatchObject({ id: team.id, role: AccountRole.MEMBER, type: AccountType.TEAM });
    // Again: a no-op success.
    expect((await bob.ua().acceptTeamAccountInvite({ token: invite.token })).account?.role).toBe(AccountRole.MEMBER);
    expect((await alice.ua().getTeamAccountInvites({ accountId: team.id })).invites).toEqual([]);
    expect((await bob.ua().isUserInAccount({ accountId: team.id })).ok).toBe(true);
    expect((await bob.ua().getUserAccounts({})).accounts).toContainEqual(expect.objectContaining({ id: team.id, role: AccountRole.MEMBER }));

    const members = await bob.ua().getTeamAccountMembers({ accountId: team.id });
    expect(members.users).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: alice.userId, name: "Alice", email: alice.email, role: AccountRole.ADMIN }),
        expect.objectContaining({ id: bob.userId, name: "Bob", email: bob.email, role: AccountRole.MEMBER }),
      ]),
    );
    // A member is not an admin.
    expect(await codeOf(bob.ua().setUserRole({ accountId: team.id, userId: bob.userId, role: AccountRole.ADMIN }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.ua().inviteUserToTeamAccount({ accountId: team.id, email: carol.email }))).toBe(Code.PermissionDenied);

    await alice.ua().setUserRole({ accountId: team.id, userId: bob.userId, role: AccountRole.ADMIN });
    // Two admins: Alice may step down; then Bob is the last admin.
    await bob.ua().setUserRole({ accountId: team.id, userId: alice.userId, role: AccountRole.VIEWER });
    expect(await codeOf(bob.ua().setUserRole({ accountId: team.id, userId: bob.userId, role: AccountRole.MEMBER }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(bob.ua().removeTeamAccountMember({ accountId: team.id, userId: bob.userId }))).toBe(Code.FailedPrecondition);
    await bob.ua().removeTeamAccountMember({ accountId: team.id, userId: alice.userId });
    expect((await alice.ua().isUserInAccount({ accountId: team.id })).ok).toBe(false);
    expect(await codeOf(alice.ua().getTeamAccountMembers({ accountId: team.id }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.ua().removeTeamAccountMember({ accountId: team.id, userId: alice.userId }))).toBe(Code.NotFound);

    await t.server.app.deps.audit.flush();
    const { events } = await bob.ua().getAccountAuditEvents({ accountId: team.id, pageSize: 100 });
    // Newest first; events written within the same millisecond may tie, so compare as a set.
    const times = events.map((e) => Number(e.time!.seconds) * 1000 + Math.floor(e.time!.nanos / 1e6));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const trail = events.map((e) => `${e.action} ${e.actorUserId}`).sort();
    const expected = (
      [
        ["account.create.success", alice.userId],
        ["invite.create.success", alice.userId],
        ["invite.accept.failure", carol.userId],
        ["invite.accept.success", bob.userId],
        ["member.role_change.success", alice.userId],
        ["member.role_change.success", bob.userId],
        ["member.role_change.failure", bob.userId],
        ["member.remove.failure", bob.userId],
        ["member.remove.success", bob.userId],
      ] as const
    ).map(([a, u]) => `${a} ${u}`);
    expect(trail).toEqual(expected.sort());
    for (const e of events) {
      expect(e.accountId).toBe(team.id);
      expect(e.clientIp).toMatch(/^10\./);
      expect(e.userAgent).toContain("accounts-flow-test/1.0");
      expect(e.metadataJson).not.toContain(invite.token.slice(4));
    }
    const byAction = (a: string) => events.filter((e) => e.action === a).map((e) => JSON.parse(e.metadataJson) as Record<string, unknown>);
    expect(byAction("invite.create.success")[0]).toMatchObject({ invite_id: invite.invite!.id, role: "member" });
    expect(byAction("member.role_change.success")).toEqual(
      expect.arrayContaining([
        { user_id: bob.userId, from: "member", to: "admin" },
        { user_id: alice.userId, from: "admin", to: "viewer" },
      ]),
    );
    expect(byAction("member.remove.success")[0]).toEqual({ user_id: alice.userId, role: "viewer" });
    expect(byAction("invite.accept.failure")[0]).toMatchObject({ reason: "email_mismatch" });
  });

  it("refuses expired invites and invites used by someone else", async () => {
    const admin = await signUp(t, "Dana");
    const eve = await signUp(t, "Eve");
    const team = (await admin.ua().createTeamAccount({ name: "Expiring" })).account!;
    const expired = await admin.ua().inviteUserToTeamAccount({ accountId: team.id, email: eve.email });
    await t.database.db.kysely
      .updateTable("invites")
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where("id", "=", expired.invite!.id)
      .execute();
    expect(await codeOf(eve.ua().acceptTeamAccountInvite({ token: expired.token }))).toBe(Code.PermissionDenied);
    expect((await admin.ua().getTeamAccountInvites({ accountId: team.id })).invites).toEqual([]);

    const used = await admin.ua().inviteUserToTeamAccount({ accountId: team.id, email: eve.email, role: AccountRole.VIEWER });
    // Accepted by another user with the same email (e.g. the same person through an OpenID provider).
    await t.database.db.kysely
      .updateTable("invites")
      .set({ accepted_at: new Date(), accepted_by_id: admin.userId })
      .where("id", "=", used.invite!.id)
      .execute();
    expect(await codeOf(eve.ua().acceptTeamAccountInvite({ token: used.token }))).toBe(Code.InvalidArgument);
    expect((await eve.ua().isUserInAccount({ accountId: team.id })).ok).toBe(false);
  });
});

describe("races on postgres", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });

  it("makes exactly one personal account from 100 concurrent SetPersonalAccount calls", async () => {
    const user = await signUp(t, "Frank");
    // Sign-up already made one: start from none.
    await t.database.db.kysely.deleteFrom("accounts").where("personal_user_id", "=", user.userId).execute();
    const client = user.ua();
    const results = await Promise.all(Array.from({ length: 100 }, () => client.setPersonalAccount({})));
    const ids = new Set(results.map((r) => r.account!.id));
    expect(ids.size).toBe(1);
    const rows = await t.database.db.kysely.selectFrom("accounts").select("id").where("personal_user_id", "=", user.userId).execute();
    expect(rows).toHaveLength(1);
    await t.server.app.deps.audit.flush();
    const created = await t.database.db.kysely
      .selectFrom("audit_events")
      .select("id")
      .where("action", "=", "account.create.success")
      .where("account_id", "=", rows[0]!.id)
      .execute();
    expect(created).toHaveLength(1);
  });

  it("accepts an invite exactly once under concurrency", async () => {
    const admin = await signUp(t, "Grace");
    const heidi = await signUp(t, "Heidi");
    const team = (await admin.ua().createTeamAccount({ name: "Concurrent" })).account!;
    const invite = await admin.ua().inviteUserToTeamAccount({ accountId: team.id, email: heidi.email, role: AccountRole.VIEWER });
    // Each call from its own client IP (the abuse limit counts accepts per IP).
    const results = await Promise.all(Array.from({ length: 20 }, () => heidi.ua().acceptTeamAccountInvite({ token: invite.token })));
    for (const r of results) expect(r.account).toMatchObject({ id: team.id, role: AccountRole.VIEWER });
    const memberships = await t.database.db.kysely.selectFrom("memberships").selectAll().where("account_id", "=", team.id).execute();
    expect(memberships).toHaveLength(2);
    await t.server.app.deps.audit.flush();
    const accepted = await t.database.db.kysely
      .selectFrom("audit_events")
      .select("id")
      .where("action", "=", "invite.accept.success")
      .where("account_id", "=", team.id)
      .execute();
    expect(accepted).toHaveLength(1);
  });

  it("keeps an admin when two admins demote or remove each other at once", async () => {
    const a = await signUp(t, "Ivan");
    const b = await signUp(t, "Judy");
    for (let round = 0; round < 5; round++) {
      const team = (await a.ua().createTeamAccount({ name: `Race ${round}` })).account!;
      const invite = await a.ua().inviteUserToTeamAccount({ accountId: team.id, email: b.email, role: AccountRole.ADMIN });
      await b.ua().acceptTeamAccountInvite({ token: invite.token });
      const [r1, r2] = await Promise.all(
        round % 2 === 0
          ? [
              codeOf(a.ua().setUserRole({ accountId: team.id, userId: b.userId, role: AccountRole.MEMBER })),
              codeOf(b.ua().setUserRole({ accountId: team.id, userId: a.userId, role: AccountRole.MEMBER })),
            ]
          : [
              codeOf(a.ua().removeTeamAccountMember({ accountId: team.id, userId: b.userId })),
              codeOf(b.ua().removeTeamAccountMember({ accountId: team.id, userId: a.userId })),
            ],
      );
      expect([r1, r2].filter((r) => r === "ok")).toHaveLength(1);
      const admins = await t.database.db.kysely
        .selectFrom("memberships")
        .select("user_id")
        .where("account_id", "=", team.id)
        .where("role", "=", "admin")
        .execute();
      expect(admins).toHaveLength(1);
    }
  });
});
