/**
 * Two server instances with their own connections to one PostgreSQL database: a key
 * revoked (regenerated or deleted) through one stops working on the other within one
 * second, although the other had it cached.
 */
import { describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { hashApiKey } from "../packages/server/src/auth/api-keys/format.js";
import { REVOCATION_CHANNEL } from "../packages/server/src/auth/revocation/log.js";
import { recordRevocations } from "../packages/server/src/store/revocation-log.js";
import { DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";
import { mintApiKey } from "./helpers/principals.js";
import { msUntilRejected } from "./helpers/server.js";
import { codeOf as outcome } from "./helpers/outcome.js";

describe("api key revocation across instances on one PostgreSQL", () => {
  // Each server opens its own connections to the t.database.
  const t = useTessera({ ownDatabase: true });
  /** AUTH_MODE=none: manages keys as the anonymous admin. */
  const a = t.server;
  /** AUTH_MODE=full: authenticates with the keys. */
  const b = t.useServer({ env: { AUTH_MODE: "full" } });

  const expiresAt = () => timestampFromDate(new Date(Date.now() + 86_400_000));

  it("answers from its cache: a row deleted behind its back keeps working until told", async () => {
    // Shows the second instance really serves from memory, so the next tests measure the notification.
    const minted = await mintApiKey(t.database.db.kysely, DEFAULT_ACCOUNT_ID);
    const check = () => outcome(b.client(AuthService, { token: minted.key }).checkToken({}));
    expect(await check()).toBe("ok");
    await t.database.db.kysely.deleteFrom("api_keys").where("id", "=", minted.id).execute();
    expect(await check()).toBe("ok");
    // A revocation recorded in the log from anywhere (here: the test's own connection) purges it.
    const sequence = await recordRevocations(t.database.db.kysely, [{ kind: "api_key", target: hashApiKey(minted.key) }]);
    await t.database.db.notify(REVOCATION_CHANNEL, String(sequence));
    expect(await msUntilRejected(b, minted.key)).toBeLessThan(1000);
  });

  it("sees a delete on the other instance within one second", async () => {
    const created = await a.client(ApiKeyService).createAccountApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: "delete across", expiresAt: expiresAt() });
    for (let i = 0; i < 3; i++) {
      const res = await b.client(AuthService, { token: created.keyValue }).checkToken({});
      expect(res.principalKind).toBe(PrincipalKind.API_KEY);
    }
    await a.client(ApiKeyService).deleteAccountApiKey({ id: created.apiKey!.id });
    expect(await msUntilRejected(b, created.keyValue)).toBeLessThan(1000);
  });

  it("sees a regenerate on the other instance within one second; the new value works there", async () => {
    const created = await a.client(ApiKeyService).createAccountApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: "regen across", expiresAt: expiresAt() });
    for (let i = 0; i < 3; i++) expect(await outcome(b.client(AuthService, { token: created.keyValue }).checkToken({}))).toBe("ok");
    const regen = await a.client(ApiKeyService).regenerateAccountApiKey({ id: created.apiKey!.id, expiresAt: expiresAt() });
    expect(await msUntilRejected(b, created.keyValue)).toBeLessThan(1000);
    const res = await b.client(AuthService, { token: regen.keyValue }).checkToken({});
    expect(res.apiKeyId).toBe(created.apiKey!.id);
  });
});
