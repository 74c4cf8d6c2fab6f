/**
 * Finding 3 of issue 13: after a move from AUTH_MODE=full to admin, other users could
 * not log in but their refresh tokens, access tokens and API keys kept working. Admin
 * mode means only the configured admin gets in: at startup other users' sessions end,
 * and every admin-mode instance refuses their access tokens and API keys (refused, not
 * deleted: a move back to full mode gives them back their sign-in and their keys).
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import type { TestServer } from "../helpers/server.js";
import { codeOf, expectCode } from "../helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const ADMIN_PASSWORD = "the admin's own password";

describe.each(DB_KINDS)("finding 3: other users in admin mode on %s", (kind) => {
  const t = useTessera({ db: kind, server: false });
  const { clock } = t;

  const start = (env: Record<string, string>) => t.startServer({ env, ownDatabase: kind === "postgres" });

  /** A signed-up user with a team account and an API key of it, made through the RPCs. */
  async function userWithKey(s: TestServer, email: string, password: string) {
    const tokens = (await s.client(AuthService).signUp({ email, password })).tokens!;
    const team = (await s.client(UserAccountService, { token: tokens.accessToken }).createTeamAccount({ name: `team of ${email}` })).account!;
    const key = await s
      .client(ApiKeyService, { token: tokens.accessToken })
      .createAccountApiKey({ accountId: team.id, name: "ci", expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)) });
    return { tokens, key: key.keyValue, keyId: key.apiKey!.id };
  }

  it("finding 3: after a move from full to admin mode only the admin gets in: other users' sessions end and every instance refuses their tokens and keys; moving back restores sign-in and keys", async () => {
    const otherEmail = `other-${kind}@example.com`;
    const adminEmail = `admin-${kind}@example.com`;
    const full = await start({ AUTH_MODE: "full" });
    let other: Awaited<ReturnType<typeof userWithKey>>;
    let admin: Awaited<ReturnType<typeof userWithKey>>;
    try {
      other = await userWithKey(full, otherEmail, PASSWORD);
      admin = await userWithKey(full, adminEmail, ADMIN_PASSWORD);
      // Warm every cache of the full-mode instance.
      expect((await full.client(AuthService, { token: other.tokens.accessToken }).checkToken({})).userId).toBe(other.tokens.userId);
      expect((await full.client(AuthService, { token: other.key }).checkToken({})).principalKind).toBe(PrincipalKind.API_KEY);
    } finally {
      await full.close();
    }

    clock.advance(5);
    const env = { AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: adminEmail, AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const a1 = await start(env);
    const a2 = await start(env);
    try {
      let adminRefresh = admin.tokens.refreshToken;
      for (const s of [a1, a2]) {
        // The other user: nothing gets in.
        await expectCode(s.client(AuthService).refreshToken({ refreshToken: other.tokens.refreshToken }), Code.Unauthenticated);
        await expectCode(s.client(AuthService, { token: other.tokens.accessToken }).checkToken({}), Code.Unauthenticated, /AUTH_MODE=admin/);
        await expectCode(s.client(AuthService, { token: other.key }).checkToken({}), Code.Unauthenticated, /AUTH_MODE=admin/);
        await expectCode(s.client(UserAccountService, { token: other.tokens.accessToken }).getUserAccounts({}), Code.Unauthenticated);
        await expectCode(s.client(AuthService).login({ email: otherEmail, password: PASSWORD }), Code.Unauthenticated);
        // The configured admin: its session (same password), its access token and the key it created keep working.
        expect((await s.client(AuthService, { token: admin.tokens.accessToken }).checkToken({})).userId).toBe(admin.tokens.userId);
        expect((await s.client(AuthService, { token: admin.key }).checkToken({})).apiKeyId).toBe(admin.keyId);
        adminRefresh = (await s.client(AuthService).refreshToken({ refreshToken: adminRefresh })).tokens!.refreshToken;
      }
    } finally {
      await a2.close();
      await a1.close();
    }
    const k = t.database.db.kysely;
    // Refused, not deleted: the key and the user are still there, the user is not disabled; its sessions are ended for good.
    expect(await k.selectFrom("api_keys").select("id").where("id", "=", other.keyId).execute()).toHaveLength(1);
    expect((await k.selectFrom("users").select("disabled_at").where("id", "=", other.tokens.userId).executeTakeFirstOrThrow()).disabled_at).toBeNull();
    const families = await k.selectFrom("refresh_families").select(["revoked_at", "revoked_reason"]).where("user_id", "=", other.tokens.userId).execute();
    expect(families.length).toBeGreaterThan(0);
    for (const f of families) expect(f).toMatchObject({ revoked_reason: "auth_mode_admin" });

    // Back to full mode: the other user signs in again and its key works again; its old session stays ended.
    const back = await start({ AUTH_MODE: "full" });
    try {
      expect(await codeOf(back.client(AuthService).login({ email: otherEmail, password: PASSWORD }))).toBe("ok");
      expect((await back.client(AuthService, { token: other.key }).checkToken({})).apiKeyId).toBe(other.keyId);
      await expectCode(back.client(AuthService).refreshToken({ refreshToken: other.tokens.refreshToken }), Code.Unauthenticated);
    } finally {
      await back.close();
    }
  });
});
