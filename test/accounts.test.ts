/**
 * UserAccountService in AUTH_MODE=none, on PostgreSQL and PGlite: the anonymous user
 * owns the default account and every RPC works for it without a login.
 */
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { toJsonString } from "@bufbuild/protobuf";
import {
  AccountRole,
  AccountType,
  GetTeamAccountInvitesResponseSchema,
  UserAccountService,
  UserType,
} from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { ANONYMOUS_USER_ID, DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";
import { DB_KINDS, useTessera } from "./harness.js";
import { codeOf } from "./helpers/outcome.js";

describe.each(DB_KINDS)("UserAccountService in AUTH_MODE=none on %s", (kind) => {
  const t = useTessera({ db: kind });
  const client = () => t.client(UserAccountService);

  it("serves the anonymous user and its default account", async () => {
    const me = await client().getUser({});
    expect(me).toMatchObject({ userId: ANONYMOUS_USER_ID, userType: UserType.HUMAN });
    expect((await client().setUser({})).userId).toBe(ANONYMOUS_USER_ID);
    const { accounts } = await client().getUserAccounts({});
    expect(accounts).toContainEqual(expect.objectContaining({ id: DEFAULT_ACCOUNT_ID, type: AccountType.TEAM, role: AccountRole.ADMIN }));
    expect((await client().isUserInAccount({ accountId: DEFAULT_ACCOUNT_ID })).ok).toBe(true);
    expect((await client().isUserInAccount({ accountId: "00000000-0000-0000-0000-0000000000ff" })).ok).toBe(false);
    const members = await client().getTeamAccountMembers({ accountId: DEFAULT_ACCOUNT_ID });
    expect(members.users).toEqual([expect.objectContaining({ id: ANONYMOUS_USER_ID, role: AccountRole.ADMIN })]);
  });

  it("creates the personal account once and team accounts with unique names", async () => {
    const a = await client().setPersonalAccount({});
    const b = await client().setPersonalAccount({});
    expect(a.account?.id).toBe(b.account?.id);
    expect(a.account?.type).toBe(AccountType.PERSONAL);
    const team = await client().createTeamAccount({ name: "  Platform  " });
    expect(team.account).toMatchObject({ name: "Platform", type: AccountType.TEAM, role: AccountRole.ADMIN });
    expect(await codeOf(client().createTeamAccount({ name: "platform" }))).toBe(Code.AlreadyExists);
    expect(await codeOf(client().createTeamAccount({ name: "   " }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client().createTeamAccount({ name: "x".repeat(101) }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client().createTeamAccount({ name: "bad\u0000name" }))).toBe(Code.InvalidArgument);
    expect((await client().createTeamAccount({ name: "y".repeat(100) })).account?.name).toHaveLength(100);
    const ids = (await client().getUserAccounts({})).accounts.map((x) => x.id);
    expect(ids).toEqual(expect.arrayContaining([a.account!.id, team.account!.id, DEFAULT_ACCOUNT_ID]));
  });

  it("refuses member operations and invites on personal accounts", async () => {
    const personal = (await client().setPersonalAccount({})).account!;
    expect(await codeOf(client().inviteUserToTeamAccount({ accountId: personal.id, email: "a@example.com" }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(client().setUserRole({ accountId: personal.id, userId: ANONYMOUS_USER_ID, role: AccountRole.MEMBER }))).toBe(Code.FailedPrecondition);
    expect(await codeOf(client().removeTeamAccountMember({ accountId: personal.id, userId: ANONYMOUS_USER_ID }))).toBe(Code.FailedPrecondition);
  });

  it("keeps the last admin", async () => {
    expect(await codeOf(client().setUserRole({ accountId: DEFAULT_ACCOUNT_ID, userId: ANONYMOUS_USER_ID, role: AccountRole.VIEWER }))).toBe(
      Code.FailedPrecondition,
    );
    expect(await codeOf(client().removeTeamAccountMember({ accountId: DEFAULT_ACCOUNT_ID, userId: ANONYMOUS_USER_ID }))).toBe(Code.FailedPrecondition);
    // Setting the role it already has is a no-op.
    await client().setUserRole({ accountId: DEFAULT_ACCOUNT_ID, userId: ANONYMOUS_USER_ID, role: AccountRole.ADMIN });
  });

  it("invites, lists without tokens, re-invites, removes and accepts", async () => {
    const team = (await client().createTeamAccount({ name: `invites ${kind}` })).account!;
    const first = await client().inviteUserToTeamAccount({ accountId: team.id, email: "  Bob@Example.COM ", role: AccountRole.VIEWER });
    expect(first.token).toMatch(/^tsi_[A-Za-z0-9_-]{43}$/);
    expect(first.invite).toMatchObject({ accountId: team.id, email: "Bob@Example.COM", role: AccountRole.VIEWER, createdById: ANONYMOUS_USER_ID });
    const ttl = Number(first.invite!.expiresAt!.seconds - first.invite!.createdAt!.seconds);
    expect(Math.abs(ttl - 7 * 86400)).toBeLessThan(5);
    // Default role: member.
    const second = await client().inviteUserToTeamAccount({ accountId: team.id, email: "bob@example.com" });
    expect(second.invite?.role).toBe(AccountRole.MEMBER);
    const open = await client().getTeamAccountInvites({ accountId: team.id });
    expect(open.invites.map((i) => i.id)).toEqual([second.invite!.id]);
    expect(toJsonString(GetTeamAccountInvitesResponseSchema, open)).not.toContain(second.token.slice(4));
    // The replaced invite is expired.
    expect(await codeOf(client().acceptTeamAccountInvite({ token: first.token }))).toBe(Code.PermissionDenied);
    const third = await client().inviteUserToTeamAccount({ accountId: team.id, email: "carol@example.com" });
    await client().removeTeamAccountInvite({ id: third.invite!.id });
    expect(await codeOf(client().removeTeamAccountInvite({ id: third.invite!.id }))).toBe(Code.NotFound);
    expect(await codeOf(client().acceptTeamAccountInvite({ token: third.token }))).toBe(Code.NotFound);
    // The anonymous user (no email) may accept; it already is the admin, so its role stays.
    const acc = await client().acceptTeamAccountInvite({ token: second.token });
    expect(acc.account).toMatchObject({ id: team.id, role: AccountRole.ADMIN });
    expect((await client().acceptTeamAccountInvite({ token: second.token })).account?.id).toBe(team.id);
    expect((await client().getTeamAccountInvites({ accountId: team.id })).invites).toEqual([]);
    expect(await codeOf(client().removeTeamAccountInvite({ id: second.invite!.id }))).toBe(Code.FailedPrecondition);
  });

  it("validates every field", async () => {
    const bad: Array<Promise<unknown>> = [
      client().isUserInAccount({ accountId: "" }),
      client().isUserInAccount({ accountId: "not-a-uuid" }),
      client().getTeamAccountMembers({ accountId: "x" }),
      client().removeTeamAccountMember({ accountId: DEFAULT_ACCOUNT_ID, userId: "nope" }),
      client().setUserRole({ accountId: DEFAULT_ACCOUNT_ID, userId: ANONYMOUS_USER_ID, role: AccountRole.UNSPECIFIED }),
      client().setUserRole({ accountId: DEFAULT_ACCOUNT_ID, userId: ANONYMOUS_USER_ID, role: 42 as AccountRole }),
      client().inviteUserToTeamAccount({ accountId: DEFAULT_ACCOUNT_ID, email: "not an email" }),
      client().inviteUserToTeamAccount({ accountId: DEFAULT_ACCOUNT_ID, email: "a\u0000@example.com" }),
      client().inviteUserToTeamAccount({ accountId: DEFAULT_ACCOUNT_ID, email: `${"a".repeat(250)}@example.com` }),
      client().inviteUserToTeamAccount({ accountId: DEFAULT_ACCOUNT_ID, email: "a@example.com", role: 9 as AccountRole }),
      client().removeTeamAccountInvite({ id: "1" }),
      client().acceptTeamAccountInvite({ token: "" }),
      client().acceptTeamAccountInvite({ token: "tsi_\u0000" }),
      client().getAccountAuditEvents({ accountId: DEFAULT_ACCOUNT_ID, pageSize: 101 }),
      client().getAccountAuditEvents({ accountId: DEFAULT_ACCOUNT_ID, pageSize: -1 }),
      client().getAccountAuditEvents({ accountId: DEFAULT_ACCOUNT_ID, pageToken: "garbage!" }),
      client().getAccountAuditEvents({ accountId: DEFAULT_ACCOUNT_ID, pageToken: Buffer.from('{"t":"x","id":"y"}').toString("base64url") }),
    ];
    for (const [i, p] of bad.entries()) expect([i, await codeOf(p)]).toEqual([i, Code.InvalidArgument]);
    expect(await codeOf(client().acceptTeamAccountInvite({ token: "tsi_doesnotexist" }))).toBe(Code.NotFound);
    expect(await codeOf(client().removeTeamAccountInvite({ id: "00000000-0000-0000-0000-0000000000aa" }))).toBe(Code.NotFound);
    expect(
      await codeOf(client().setUserRole({ accountId: DEFAULT_ACCOUNT_ID, userId: "00000000-0000-0000-0000-0000000000aa", role: AccountRole.VIEWER })),
    ).toBe(Code.NotFound);
  });

  it("pages the audit trail newest first with an opaque cursor", async () => {
    const team = (await client().createTeamAccount({ name: `audited ${kind}` })).account!;
    for (let i = 0; i < 5; i++) await client().inviteUserToTeamAccount({ accountId: team.id, email: `p${i}@example.com` });
    await t.server.app.deps.audit.flush();
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await client().getAccountAuditEvents({ accountId: team.id, pageSize: 2, pageToken: token });
      seen.push(...page.events.map((e) => e.id));
      for (const e of page.events) {
        expect(e.accountId).toBe(team.id);
        expect(e.actorUserId).toBe(ANONYMOUS_USER_ID);
        expect(e.clientIp).toBe("127.0.0.1");
      }
      token = page.nextPageToken;
      pages++;
    } while (token !== "" && pages < 10);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    const all = await client().getAccountAuditEvents({ accountId: team.id });
    expect(all.events.map((e) => e.id)).toEqual(seen);
    expect(all.events.map((e) => e.action)).toEqual([...Array(5).fill("invite.create.success"), "account.create.success"]);
    expect(all.events[0]!.metadataJson).not.toContain("tsi_");
  });
});
