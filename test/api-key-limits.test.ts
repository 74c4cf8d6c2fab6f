/**
 * Per-key limits of API keys (issue 19): rate limits (several, applied together) and a
 * usage budget with an optional refill, counted on every call the key makes to Tessera;
 * over a limit ResourceExhausted with `retry-after`, budget spent ResourceExhausted saying
 * so; usage shown in get/list. In memory on one instance (the harness clock moves the
 * windows), and in Redis shared by two instances under concurrent load, where the key
 * never gets more calls than its limit or budget.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { ApiKeyService, AuthService, UserAccountService } from "@tessera/sdk/proto";
import { codeOf, expectCode } from "./helpers/outcome.js";
import { DB_KINDS, useTessera, type TestServer } from "./harness.js";

const inAMonth = () => timestampFromDate(new Date(Date.now() + 30 * 86_400_000));

/** Moves a test clock to just after the start of the next hour. */
function toTopOfHour(clock: { now(): Date; advance(seconds: number): void }): void {
  clock.advance(3600 - ((clock.now().getTime() / 1000) % 3600) + 0.01);
}

type Limits = {
  rateLimits?: Array<{ limit: number; windowSeconds: number }>;
  budget?: { uses: bigint; refillAmount?: bigint; refillIntervalSeconds?: number };
};

describe.each(DB_KINDS)("API-key limits in memory, on %s", (db) => {
  const t = useTessera({ db, env: { AUTH_MODE: "full", AUTH_JWT_ACCESS_TOKEN_LIFETIME: "86400" }, forwardedFor: true });
  let token = "";
  let accountId = "";

  beforeAll(async () => {
    const user = await t.signUp();
    token = user.accessToken;
    accountId = (await t.client(UserAccountService, { token }).getUserAccounts({})).accounts[0]!.id;
  });

  const create = (limits: Limits) =>
    t.client(ApiKeyService, { token }).createAccountApiKey({ accountId, name: `k ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth(), ...limits });
  const call = (key: string) => t.client(UserAccountService, { token: key }).getUser({});

  it("refuses limits out of range with InvalidArgument", async () => {
    const six = Array.from({ length: 6 }, () => ({ limit: 1, windowSeconds: 60 }));
    await expectCode(create({ rateLimits: six }), Code.InvalidArgument, /at most 5 rate limits/);
    await expectCode(create({ rateLimits: [{ limit: 0, windowSeconds: 60 }] }), Code.InvalidArgument, /rate_limits\[0\]\.limit/);
    await expectCode(create({ rateLimits: [{ limit: 5, windowSeconds: 0 }] }), Code.InvalidArgument, /window_seconds/);
    await expectCode(create({ budget: { uses: 0n } }), Code.InvalidArgument, /budget\.uses/);
    await expectCode(create({ budget: { uses: 5n, refillAmount: 5n } }), Code.InvalidArgument, /refill_interval_seconds/);
    await expectCode(create({ budget: { uses: 5n, refillIntervalSeconds: 3600 } }), Code.InvalidArgument, /needs a refill_amount/);
  });

  it("applies several rate limits together, with retry-after, and shows the usage", async () => {
    const created = await create({
      rateLimits: [
        { limit: 3, windowSeconds: 60 },
        { limit: 4, windowSeconds: 3600 },
      ],
    });
    expect(created.apiKey!.rateLimits).toEqual([
      expect.objectContaining({ limit: 3, windowSeconds: 60 }),
      expect.objectContaining({ limit: 4, windowSeconds: 3600 }),
    ]);
    const key = created.keyValue;
    // Windows are aligned to the epoch: start at the top of an hour so none rolls over mid-test.
    toTopOfHour(t.clock);
    for (let i = 0; i < 3; i++) expect(await codeOf(call(key))).toBe("ok");
    const e = await expectCode(call(key), Code.ResourceExhausted, /rate limit exceeded \(3 per 60 s\)/);
    const retry = Number(e.metadata.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    const got = (await t.client(ApiKeyService, { token }).getAccountApiKey({ id: created.apiKey!.id })).apiKey!;
    expect(got.usage?.rateLimitUsed).toEqual([3, 3]);
    // The next minute: the first limit allows more, the hour's (4) stops the fifth call.
    t.clock.advance(60);
    expect(await codeOf(call(key))).toBe("ok");
    await expectCode(call(key), Code.ResourceExhausted, /4 per 3600 s/);
    const listed = (await t.client(ApiKeyService, { token }).getAccountApiKeys({ accountId })).apiKeys.find((k) => k.id === created.apiKey!.id)!;
    expect(listed.usage?.rateLimitUsed).toEqual([1, 4]);
  });

  it("spends a budget, says when it is exhausted, and refills it", async () => {
    const created = await create({ budget: { uses: 2n, refillAmount: 3n, refillIntervalSeconds: 3600 } });
    const key = created.keyValue;
    // CheckToken counts too: every call a key makes.
    expect(await codeOf(t.client(AuthService, { token: key }).checkToken({}))).toBe("ok");
    expect(await codeOf(call(key))).toBe("ok");
    const e = await expectCode(call(key), Code.ResourceExhausted, /usage budget exhausted until its refill/);
    expect(Number(e.metadata.get("retry-after"))).toBeGreaterThan(3000);
    expect((await t.client(ApiKeyService, { token }).getAccountApiKey({ id: created.apiKey!.id })).apiKey!.usage?.budgetRemaining).toBe(0n);
    t.clock.advance(3600);
    for (let i = 0; i < 3; i++) expect(await codeOf(call(key))).toBe("ok");
    await expectCode(call(key), Code.ResourceExhausted, /budget exhausted/);

    const once = (await create({ budget: { uses: 1n } })).keyValue;
    expect(await codeOf(call(once))).toBe("ok");
    const spent = await expectCode(call(once), Code.ResourceExhausted, /^API key usage budget exhausted$/);
    expect(spent.metadata.get("retry-after")).toBeNull();
  });

  it("keys without limits are not counted", async () => {
    const created = await create({});
    expect(created.apiKey!.usage).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(await codeOf(call(created.keyValue))).toBe("ok");
    expect((await t.client(AuthService, { token: created.keyValue }).checkToken({})).perCallLimits).toBe(false);
  });
});

describe("API-key limits in Redis, shared by two instances", () => {
  const prefix = `tessera-test-${randomBytes(4).toString("hex")}:`;
  const env = { AUTH_MODE: "full", AUTH_JWT_ACCESS_TOKEN_LIFETIME: "86400", REDIS_URL: "redis://127.0.0.1:6379", REDIS_KEY_PREFIX: prefix };
  const t = useTessera({ env, forwardedFor: true });
  const b: TestServer = t.useServer();

  it("never lets a key exceed its rate limit or budget under concurrent load on both instances", async () => {
    const user = await t.signUp();
    const accountId = (await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({})).accounts[0]!.id;
    const keys = t.client(ApiKeyService, { token: user.accessToken });
    const make = (limits: Limits) => keys.createAccountApiKey({ accountId, name: `k ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth(), ...limits });
    const limited = await make({
      rateLimits: [
        { limit: 25, windowSeconds: 3600 },
        { limit: 1000, windowSeconds: 86_400 },
      ],
    });
    const budgeted = await make({ budget: { uses: 17n } });

    async function burst(key: string, n: number): Promise<Array<Code | "ok">> {
      return Promise.all(
        Array.from({ length: n }, (_, i) =>
          codeOf((i % 2 === 0 ? t.client(UserAccountService, { token: key }) : t.clientOf(b, UserAccountService, { token: key })).getUser({})),
        ),
      );
    }
    toTopOfHour(t.clock); // the burst stays inside one window
    const rate = await burst(limited.keyValue, 120);
    expect(rate.filter((c) => c === "ok")).toHaveLength(25);
    expect(rate.filter((c) => c !== "ok").every((c) => c === Code.ResourceExhausted)).toBe(true);
    const budget = await burst(budgeted.keyValue, 80);
    expect(budget.filter((c) => c === "ok")).toHaveLength(17);
    expect(budget.filter((c) => c !== "ok").every((c) => c === Code.ResourceExhausted)).toBe(true);

    // Both instances report the shared usage.
    const usageOn = async (server: TestServer | undefined, id: string) =>
      (await (server ? t.clientOf(server, ApiKeyService, { token: user.accessToken }) : keys).getAccountApiKey({ id })).apiKey!.usage;
    expect((await usageOn(undefined, limited.apiKey!.id))?.rateLimitUsed).toEqual([25, 25]);
    expect((await usageOn(b, limited.apiKey!.id))?.rateLimitUsed).toEqual([25, 25]);
    expect((await usageOn(b, budgeted.apiKey!.id))?.budgetRemaining).toBe(0n);
  });
});
