/**
 * The SDK's second factor (issue 18): `signIn` of a user with TOTP stores nothing and
 * rejects with `MfaRequiredError` carrying the challenge; `verifyMfa` sends the challenge
 * with a code or a recovery code, without a bearer, and stores the tokens. In memory
 * (a router transport standing in for Tessera); test/mfa-clients.test.ts does it against
 * the real server.
 */
import { describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { AuthService, MfaChallengeSchema, TokensSchema } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { MfaService } from "../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import * as browserSdk from "../packages/sdk/src/index.js";
import { createTesseraClient, MfaRequiredError, tokensFromSignIn } from "../packages/sdk/src/node.js";

const EXPIRES = new Date("2030-01-01T00:00:00Z");

function fakeTessera() {
  const seen: Array<{ method: string; authorization: string | null; body: Record<string, unknown> }> = [];
  const tokens = (n: string) => ({ accessToken: `at-${n}`, refreshToken: `rt-${n}`, userId: "u1" });
  const transport = createRouterTransport((router) => {
    router.service(AuthService, {
      login(req, ctx) {
        seen.push({ method: "Login", authorization: ctx.requestHeader.get("authorization"), body: { email: req.email } });
        if (req.email === "plain@example.com") return { tokens: tokens("plain") };
        return { mfaChallenge: { challenge: "mfa_ch_1", methods: ["totp", "recovery_code"], expiresAt: timestampFromDate(EXPIRES) } };
      },
    });
    router.service(MfaService, {
      verifyMfa(req, ctx) {
        seen.push({ method: "VerifyMfa", authorization: ctx.requestHeader.get("authorization"), body: { ...req } });
        if (req.challenge !== "mfa_ch_1") throw new ConnectError("unknown or expired challenge", Code.NotFound);
        if (req.code === "123456" || req.recoveryCode === "abcd-efgh") return { tokens: tokens("mfa") };
        throw new ConnectError("wrong code", Code.InvalidArgument);
      },
    });
  });
  return { transport, seen };
}

describe("SDK: sign-in with a second factor (in-memory router)", () => {
  it("signIn rejects with MfaRequiredError carrying the challenge and stores nothing; a user without MFA gets tokens", async () => {
    const fake = fakeTessera();
    const client = createTesseraClient({ transport: fake.transport });
    const err = await client.signIn("ada@example.com", "pw").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MfaRequiredError);
    expect((err as MfaRequiredError).challenge).toEqual({ challenge: "mfa_ch_1", methods: ["totp", "recovery_code"], expiresAt: EXPIRES });
    expect(await client.getTokens()).toBeUndefined();
    expect((await client.signIn("plain@example.com", "pw")).accessToken).toBe("at-plain");
    // The browser entry exports the same class (one module behind both entries).
    expect(browserSdk.MfaRequiredError).toBe(MfaRequiredError);
  });

  it("verifyMfa with a code or a recovery code stores the tokens and never sends a bearer", async () => {
    const fake = fakeTessera();
    // Signed in as someone else already: VerifyMfa must not carry that session's token.
    const client = createTesseraClient({ transport: fake.transport, accessToken: "at-other" });
    const { challenge } = (await client.signIn("ada@example.com", "pw").catch((e: unknown) => e)) as MfaRequiredError;
    const wrong = await client.verifyMfa(challenge, { code: "000000" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(wrong?.code).toBe(Code.InvalidArgument);
    expect((await client.getTokens())?.accessToken).toBe("at-other");
    const t = await client.verifyMfa(challenge, { code: "123 456" });
    expect(t).toMatchObject({ accessToken: "at-mfa", refreshToken: "rt-mfa", userId: "u1" });
    expect((await client.getTokens())?.accessToken).toBe("at-mfa");
    await client.verifyMfa("mfa_ch_1", { recoveryCode: " abcd-efgh " });
    const calls = fake.seen.filter((c) => c.method === "VerifyMfa");
    expect(calls.map((c) => c.authorization)).toEqual([null, null, null]);
    expect(calls.map((c) => [c.body.code, c.body.recoveryCode])).toEqual([
      ["000000", ""],
      ["123456", ""],
      ["", "abcd-efgh"],
    ]);
    const gone = await client.verifyMfa("mfa_ch_old", { code: "123456" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(gone?.code).toBe(Code.NotFound);
  });

  it("tokensFromSignIn reads an ExchangeCode answer: tokens, or MfaRequiredError for a challenge", () => {
    const tokens = create(TokensSchema, { accessToken: "a", refreshToken: "r", userId: "u" });
    expect(tokensFromSignIn({ tokens }).accessToken).toBe("a");
    const mfaChallenge = create(MfaChallengeSchema, { challenge: "c", methods: ["totp"] });
    expect(() => tokensFromSignIn({ mfaChallenge })).toThrow(MfaRequiredError);
    expect(() => tokensFromSignIn({})).toThrow(/without tokens/);
  });
});
