/**
 * Races, repeated: the invariants hold every time.
 * - concurrent RefreshToken with one token: the grace window holds, all get the same
 *   successor, one family survives;
 * - concurrent SetPersonalAccount: exactly one personal account;
 * - concurrent invite acceptance: exactly one membership;
 * - concurrent regenerate and delete of one key: the key ends deleted with its machine
 *   user, and no value either call returned works.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { useTessera } from "./harness.js";

const REPS = 15;
const PASSWORD = "a long and unguessable passphrase 42";

describe("races", () => {
  // Every client comes from its own (proxied) address, so abuse limits stay out of the way.
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });
  const client = <S extends DescService>(service: S, token?: string) => t.client(service, { token });
  const signUp = () => t.signUp({ password: PASSWORD });

  it("concurrent RefreshToken with one token: all succeed within the grace window, one family survives", async () => {
    for (let rep = 0; rep < REPS; rep++) {
      const { refreshToken } = await signUp();
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => client(AuthService).refreshToken({ refreshToken })));
      const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      expect(ok).toHaveLength(5);
      const userIds = new Set(ok.map((r) => r.tokens!.userId));
      expect(userIds.size).toBe(1);
      // One chain: every caller got the same successor.
      expect(new Set(ok.map((r) => r.tokens!.refreshToken)).size).toBe(1);
      // The session is still alive: the newest token refreshes again.
      const next = await client(AuthService).refreshToken({ refreshToken: ok[ok.length - 1]!.tokens!.refreshToken });
      expect(next.tokens!.accessToken).toBeTruthy();
      const families = await t.database.db.kysely
        .selectFrom("refresh_families")
        .select(["id", "revoked_at"])
        .where("user_id", "=", [...userIds][0]!)
        .execute();
      expect(families).toHaveLength(1);
      expect(families[0]!.revoked_at).toBeNull();
    }
  });

  it("concurrent SetPersonalAccount makes exactly one personal account", async () => {
    for (let rep = 0; rep < REPS; rep++) {
      const { accessToken } = await signUp();
      const results = await Promise.all(Array.from({ length: 10 }, () => client(UserAccountService, accessToken).setPersonalAccount({})));
      expect(new Set(results.map((r) => r.account!.id)).size).toBe(1);
      const personal = (await client(UserAccountService, accessToken).getUserAccounts({})).accounts.filter((a) => a.type === 1);
      expect(personal).toHaveLength(1);
    }
  });

  it("concurrent invite acceptance makes exactly one membership", async () => {
    const owner = await signUp();
    const team = await client(UserAccountService, owner.accessToken).createTeamAccount({ name: `race team ${randomBytes(3).toString("hex")}` });
    const accountId = team.account!.id;
    for (let rep = 0; rep < REPS; rep++) {
      const invitee = await signUp();
      const invite = await client(UserAccountService, owner.accessToken).inviteUserToTeamAccount({ accountId, email: invitee.email, role: AccountRole.MEMBER });
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, () => client(UserAccountService, invitee.accessToken).acceptTeamAccountInvite({ token: invite.token })),
      );
      expect(results.every((r) => r.status === "fulfilled")).toBe(true);
      const rows = await t.database.db.kysely.selectFrom("memberships").select("user_id").where("account_id", "=", accountId).execute();
      // The owner plus one membership per invitee so far: never a duplicate.
      expect(rows).toHaveLength(rep + 2);
      expect(new Set(rows.map((r) => r.user_id)).size).toBe(rep + 2);
    }
  });

  it("concurrent regenerate and delete of one key: deleted with its machine user, no returned value works", async () => {
    const owner = await signUp();
    const accountId = (await client(UserAccountService, owner.accessToken).setPersonalAccount({})).account!.id;
    const keys = client(ApiKeyService, owner.accessToken);
    const expiresAt = timestampFromDate(new Date(Date.now() + 86400_000));
    for (let rep = 0; rep < REPS; rep++) {
      const created = await keys.createAccountApiKey({ accountId, name: `race-${rep}`, expiresAt });
      const id = created.apiKey!.id;
      const [regen, del] = await Promise.allSettled([keys.regenerateAccountApiKey({ id, expiresAt }), keys.deleteAccountApiKey({ id })]);
      expect(del.status).toBe("fulfilled");
      if (regen.status === "rejected") expect(ConnectError.from(regen.reason).code).toBe(Code.NotFound);
      const values = [created.keyValue, ...(regen.status === "fulfilled" ? [regen.value.keyValue] : [])];
      for (const v of values) {
        const err = await client(AuthService, v)
          .checkToken({})
          .then(
            () => undefined,
            (e: unknown) => ConnectError.from(e),
          );
        expect(err?.code).toBe(Code.Unauthenticated);
      }
      const row = await t.database.db.kysely.selectFrom("api_keys").select("id").where("id", "=", id).executeTakeFirst();
      expect(row).toBeUndefined();
      const machineUser = await t.database.db.kysely.selectFrom("users").select("id").where("id", "=", created.apiKey!.userId).executeTakeFirst();
      expect(machineUser).toBeUndefined();
    }
  });
});
