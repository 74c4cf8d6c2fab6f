/**
 * API keys with real user logins:
 * - the "Done when" script (the README's API keys section) against a server in
 *   AUTH_MODE=admin: log in, create a key, CheckToken with it, regenerate it, the old
 *   value is rejected and the new one works, delete it, the new one is rejected;
 * - the permission matrix over the real server in AUTH_MODE=full with signed-up users
 *   (admin, member, viewer, non-member) and an API key.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { Code, type Client } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, useTessera } from "./harness.js";
import { addMember, createTeamAccount, mintApiKey } from "./helpers/principals.js";
import { codeOf as outcome } from "./helpers/outcome.js";

const ADMIN_EMAIL = "admin@example.test";
const ADMIN_PASSWORD = "correct horse battery staple 42";

describe.each(DB_KINDS)("API keys' Done-when script in AUTH_MODE=admin on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: ADMIN_EMAIL, AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD } });

  it("log in, create, CheckToken, regenerate (old rejected, new works), delete (new rejected)", async () => {
    // 1. Log in.
    const { tokens } = await t.server.client(AuthService).login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    const token = tokens!.accessToken;
    const { accounts } = await t.server.client(UserAccountService, { token }).getUserAccounts({});
    const accountId = accounts[0]!.id;

    // 2. Create a key.
    const keys = t.server.client(ApiKeyService, { token });
    const created = await keys.createAccountApiKey({ accountId, name: "deploy bot", expiresAt: timestampFromDate(new Date(Date.now() + 30 * 86_400_000)) });
    const apiKey = created.keyValue;
    expect(apiKey).toMatch(/^tsk_[0-9A-Za-z]{39}$/);

    // 3. CheckToken with it.
    const who = await t.server.client(AuthService, { token: apiKey }).checkToken({});
    expect(who).toMatchObject({ principalKind: PrincipalKind.API_KEY, accountId, apiKeyId: created.apiKey!.id, userId: created.apiKey!.userId });

    // 4. Regenerate: the old value is rejected, the new one works.
    const regen = await keys.regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt: timestampFromDate(new Date(Date.now() + 60 * 86_400_000)) });
    expect(await outcome(t.server.client(AuthService, { token: apiKey }).checkToken({}))).toBe(Code.Unauthenticated);
    expect((await t.server.client(AuthService, { token: regen.keyValue }).checkToken({})).apiKeyId).toBe(created.apiKey!.id);

    // 5. Delete: the new value is rejected.
    await keys.deleteAccountApiKey({ id: created.apiKey!.id });
    expect(await outcome(t.server.client(AuthService, { token: regen.keyValue }).checkToken({}))).toBe(Code.Unauthenticated);

    const logs = t.server.logs.join("\n");
    expect(logs).not.toContain(apiKey.slice(12));
    expect(logs).not.toContain(regen.keyValue.slice(12));
  });
});

describe("API key permission matrix over the real server with signed-up users (AUTH_MODE=full, PostgreSQL)", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  const tokens: Record<string, string> = {};
  let accountId: string;
  let otherAccountId: string;

  const signUp = (name: string) =>
    t.signUp({ email: `${name}-${randomBytes(4).toString("hex")}@example.test`, password: `pw ${randomBytes(12).toString("base64")} ${name}`, name });

  beforeAll(async () => {
    accountId = await createTeamAccount(t.database.db.kysely);
    otherAccountId = await createTeamAccount(t.database.db.kysely);
    for (const role of ["admin", "member", "viewer"] as const) {
      const u = await signUp(role);
      await addMember(t.database.db.kysely, accountId, u.userId, role);
      tokens[role] = u.accessToken;
    }
    const outsider = await signUp("outsider");
    await addMember(t.database.db.kysely, otherAccountId, outsider.userId, "admin");
    tokens["non-member"] = outsider.accessToken;
    tokens["api key"] = (await mintApiKey(t.database.db.kysely, accountId)).key;
  });

  it("allows admins and members to manage, viewers to read, hides keys from non-members, refuses API keys", async () => {
    const expiresAt = () => timestampFromDate(new Date(Date.now() + 86_400_000));
    const target = await mintApiKey(t.database.db.kysely, accountId);
    let n = 0;
    const ops: Record<string, (c: Client<typeof ApiKeyService>) => Promise<unknown>> = {
      create: (c) => c.createAccountApiKey({ accountId, name: `k${n++}`, expiresAt: expiresAt() }),
      list: (c) => c.getAccountApiKeys({ accountId }),
      get: (c) => c.getAccountApiKey({ id: target.id }),
      regenerate: (c) => c.regenerateAccountApiKey({ id: target.id, expiresAt: expiresAt() }),
      delete: async (c) => c.deleteAccountApiKey({ id: (await mintApiKey(t.database.db.kysely, accountId)).id }),
    };
    const OK = "ok";
    const PD = Code.PermissionDenied;
    const NF = Code.NotFound;
    const expected = {
      admin: { create: OK, list: OK, get: OK, regenerate: OK, delete: OK },
      member: { create: OK, list: OK, get: OK, regenerate: OK, delete: OK },
      viewer: { create: PD, list: OK, get: OK, regenerate: PD, delete: PD },
      "non-member": { create: PD, list: PD, get: NF, regenerate: NF, delete: NF },
      "api key": { create: PD, list: PD, get: PD, regenerate: PD, delete: PD },
    };
    const actual: Record<string, Record<string, Code | "ok">> = {};
    for (const who of Object.keys(expected)) {
      const client = t.server.client(ApiKeyService, { token: tokens[who]! });
      actual[who] = {};
      for (const [op, call] of Object.entries(ops)) actual[who][op] = await outcome(call(client));
    }
    expect(actual).toEqual(expected);
  });

  it("answers GetUserAccounts for a key with the key's account only", async () => {
    const res = await t.server.client(UserAccountService, { token: tokens["api key"]! }).getUserAccounts({});
    expect(res.accounts.map((a) => a.id)).toEqual([accountId]);
  });
});
