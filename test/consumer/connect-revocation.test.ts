/**
 * `@tessera/connect` with the revocation stream, against an in-memory Tessera
 * (test/consumer/fake-revocations.ts): warm credentials cost no CheckToken, every kind
 * of revocation event evicts or refuses what it names, the stream resumes from its
 * cursor after a failure, and while it is silent past `maxStalenessMs` every request is
 * re-checked with Tessera (or refused). Asynchronous effects are polled up to a bound.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createTesseraAuthenticator, type AuthInterceptorOptions, type TesseraAuthenticator } from "@tessera/connect";
import { RevocationState } from "../../packages/connect/src/revocations.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RevocationEventSchema } from "@tessera/sdk/proto";
import { codeOf, errorOf } from "../helpers/outcome.js";
import { eventually, FAKE_ISSUER, sha256, startFakeTessera } from "./fake-revocations.js";

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function setUp(revocation: Partial<NonNullable<AuthInterceptorOptions["revocation"]>> = {}, extra: Partial<AuthInterceptorOptions> = {}) {
  const fake = await startFakeTessera();
  const auth = createTesseraAuthenticator({
    tesseraUrl: fake.url,
    transport: fake.transport,
    issuer: FAKE_ISSUER,
    revocation: { credential: "tsk_watcher", subscriberName: "unit", maxStalenessMs: 400, ...revocation },
    ...extra,
  });
  open.push(fake, auth);
  expect(await eventually(() => auth.revocationStatus()!.live, 2000)).toBe(true);
  return { fake, auth };
}

const ok = (auth: TesseraAuthenticator, token: string) => codeOf(auth.authenticate(`Bearer ${token}`));

/** Polls until `token` is refused with Unauthenticated; false if still accepted after 1 s. */
const refusedWithin1s = (auth: TesseraAuthenticator, token: string) => eventually(async () => (await ok(auth, token)) === Code.Unauthenticated, 1000);

describe("@tessera/connect with the revocation stream (in-memory Tessera)", () => {
  it("keeps a warm API key without calling Tessera, refuses it once its deletion arrives, and acknowledges", async () => {
    const { fake, auth } = await setUp();
    fake.keys.set("tsk_alpha", "machine-1");
    fake.keys.set("tsk_beta", "machine-2");
    expect(await auth.authenticate("Bearer tsk_alpha")).toMatchObject({ userId: "machine-1", kind: "api_key", via: "introspection" });
    for (let i = 0; i < 50; i++) expect(await ok(auth, "tsk_alpha")).toBe("ok");
    expect(fake.checks).toBe(1);

    const seq = fake.revoke({ case: "apiKeySha256", value: sha256("tsk_alpha") });
    expect(await refusedWithin1s(auth, "tsk_alpha")).toBe(true);
    expect(fake.checks).toBe(1); // refused from the event, not by asking Tessera
    expect((await errorOf(auth.authenticate("Bearer tsk_alpha"))).rawMessage).toBe("credential revoked");
    expect(await ok(auth, "tsk_beta")).toBe("ok");
    expect(await eventually(() => fake.acks.includes(seq), 2000)).toBe(true);
    expect(auth.revocationStatus()!.appliedSequence).toBe(seq);
  });

  it("keeps a verified Tessera JWT, and refuses it by session, signing key and user as the events arrive", async () => {
    const { fake, auth } = await setUp();
    // Issued before the stream covered revocations: Tessera is asked once, then never.
    const old = await fake.jwt("user-old", { sid: "s-old", iatOffsetS: -120 });
    expect(await auth.authenticate(`Bearer ${old}`)).toMatchObject({ userId: "user-old", via: "jwt", sessionId: "s-old" });
    expect(fake.checks).toBe(1);
    for (let i = 0; i < 20; i++) expect(await ok(auth, old)).toBe("ok");
    expect(fake.checks).toBe(1);

    const bySession = await fake.jwt("user-a", { sid: "s-a" });
    const byKey = await fake.jwt("user-b", { sid: "s-b" });
    const byUser = await fake.jwt("user-c", { sid: "s-c" });
    for (const t of [bySession, byKey, byUser]) expect(await ok(auth, t)).toBe("ok");
    const checks = fake.checks;

    fake.revoke({ case: "sessionId", value: "s-a" });
    expect(await refusedWithin1s(auth, bySession)).toBe(true);
    expect((await errorOf(auth.authenticate(`Bearer ${bySession}`))).rawMessage).toBe("access token revoked (session revoked)");
    expect(await ok(auth, byKey)).toBe("ok");

    fake.revoke({ case: "userId", value: "user-c" });
    expect(await refusedWithin1s(auth, byUser)).toBe(true);
    expect(await ok(auth, byKey)).toBe("ok");

    fake.revoke({ case: "signingKeyId", value: "k1" });
    expect(await refusedWithin1s(auth, byKey)).toBe(true);
    expect(fake.checks).toBe(checks); // every refusal came from the stream
  });

  it("evicts a user's API keys on a user event, and forgets everything on flush_all", async () => {
    const { fake, auth } = await setUp();
    fake.keys.set("tsk_m1", "machine-1");
    fake.keys.set("tsk_m2", "machine-2");
    for (const k of ["tsk_m1", "tsk_m2"]) expect(await ok(auth, k)).toBe("ok");
    expect(fake.checks).toBe(2);

    fake.keys.delete("tsk_m1"); // Tessera disabled machine-1: CheckToken now refuses its key
    fake.revoke({ case: "userId", value: "machine-1" });
    expect(await refusedWithin1s(auth, "tsk_m1")).toBe(true);
    expect(await ok(auth, "tsk_m2")).toBe("ok");
    const checks = fake.checks;

    fake.revoke({ case: "flushAll", value: true });
    expect(
      await eventually(async () => {
        await ok(auth, "tsk_m2");
        return fake.checks > checks;
      }, 1000),
    ).toBe(true);
  });

  it("resumes from its cursor after the stream breaks, without losing the event revoked meanwhile", async () => {
    const { fake, auth } = await setUp({ maxStalenessMs: 2000 });
    fake.keys.set("tsk_gamma", "machine-3");
    expect(await ok(auth, "tsk_gamma")).toBe("ok");
    const before = fake.revoke({ case: "sessionId", value: "unrelated" });
    expect(await eventually(() => auth.revocationStatus()!.appliedSequence === before, 1000)).toBe(true);

    fake.down = true;
    fake.killStreams();
    const seq = fake.revoke({ case: "apiKeySha256", value: sha256("tsk_gamma") }); // while no stream is open
    fake.down = false;
    expect(await refusedWithin1s(auth, "tsk_gamma")).toBe(true);
    expect(fake.watches.at(-1)).toBe(before); // resumed after the last applied event
    expect(auth.revocationStatus()).toMatchObject({ live: true, appliedSequence: seq });
  });

  it("re-checks every request with Tessera while the stream is silent past maxStalenessMs, then trusts it again", async () => {
    const { fake, auth } = await setUp({ maxStalenessMs: 300 });
    fake.keys.set("tsk_delta", "machine-4");
    expect(await ok(auth, "tsk_delta")).toBe("ok");
    const warm = fake.checks;

    fake.silent = true;
    fake.down = true; // reconnects fail too
    expect(await eventually(() => !auth.revocationStatus()!.live, 3000)).toBe(true);
    fake.down = false;
    fake.silent = true;
    // Stale: each request asks Tessera, so a key Tessera stopped accepting is refused at once.
    const c0 = fake.checks;
    for (let i = 0; i < 5; i++) expect(await ok(auth, "tsk_delta")).toBe("ok");
    expect(fake.checks - c0).toBe(5);
    fake.keys.delete("tsk_delta");
    expect(await ok(auth, "tsk_delta")).toBe(Code.Unauthenticated);
    fake.keys.set("tsk_delta", "machine-4");

    fake.silent = false;
    expect(await eventually(() => auth.revocationStatus()!.live, 5000)).toBe(true);
    const c1 = fake.checks;
    for (let i = 0; i < 5; i++) expect(await ok(auth, "tsk_delta")).toBe("ok");
    expect(fake.checks - c1).toBeLessThanOrEqual(1);
    expect(warm).toBe(1);
  });

  it("refuses with Unavailable while stale when onStale is refuse, and serves again once the stream is back", async () => {
    const { fake, auth } = await setUp({ maxStalenessMs: 300, onStale: "refuse" });
    fake.keys.set("tsk_eps", "machine-5");
    const jwt = await fake.jwt("user-e");
    expect(await ok(auth, "tsk_eps")).toBe("ok");
    expect(await ok(auth, jwt)).toBe("ok");
    fake.silent = true;
    expect(await eventually(async () => (await ok(auth, "tsk_eps")) === Code.Unavailable, 3000)).toBe(true);
    expect(await ok(auth, jwt)).toBe(Code.Unavailable);
    fake.silent = false;
    expect(await eventually(async () => (await ok(auth, "tsk_eps")) === "ok", 5000)).toBe(true);
    expect(await ok(auth, jwt)).toBe("ok");
  });

  it("forgets every cached answer when a resumed stream starts with reset", async () => {
    const { fake, auth } = await setUp({ maxStalenessMs: 2000 });
    fake.keys.set("tsk_zeta", "machine-6");
    expect(await ok(auth, "tsk_zeta")).toBe("ok");
    const checks = fake.checks;
    fake.resetNext = true;
    fake.killStreams();
    expect(await eventually(() => auth.revocationStatus()!.connects >= 2, 3000)).toBe(true);
    expect(await ok(auth, "tsk_zeta")).toBe("ok");
    expect(fake.checks).toBe(checks + 1);
  });

  it("keeps failing safe: a stream it may not open never counts as live", async () => {
    const fake = await startFakeTessera();
    const auth = createTesseraAuthenticator({
      tesseraUrl: fake.url,
      transport: fake.transport,
      issuer: FAKE_ISSUER,
      revocation: { credential: "tsk_not_allowed", maxStalenessMs: 200 },
    });
    open.push(fake, auth);
    fake.keys.set("tsk_eta", "machine-7");
    for (let i = 0; i < 3; i++) expect(await ok(auth, "tsk_eta")).toBe("ok");
    expect(fake.checks).toBe(3); // re-checked every time
    expect(await eventually(() => auth.revocationStatus()!.lastError?.startsWith("PermissionDenied") === true, 2000)).toBe(true);
  });
});

describe("RevocationState bounds", () => {
  it("remembers at most `max` revocations per kind and, past that, refuses tokens issued before the oldest it forgot", () => {
    const state = new RevocationState(2, () => Date.now());
    const at = (ms: number) => timestampFromDate(new Date(ms));
    const t0 = Date.now() - 10_000;
    for (let i = 0; i < 3; i++)
      state.apply(create(RevocationEventSchema, { sequence: BigInt(i + 1), createdAt: at(t0 + i * 1000), target: { case: "sessionId", value: `s${i}` } }));
    // s0 was pushed out: tokens issued up to its revocation are refused wholesale.
    expect(state.tokenRevoked({ sub: "u", iat: Math.floor(t0 / 1000) - 1, sid: "s0", kid: undefined })).toMatch(/forget/);
    expect(state.tokenRevoked({ sub: "u", iat: Math.floor(t0 / 1000) + 5, sid: "s9", kid: undefined })).toBeUndefined();
    expect(state.tokenRevoked({ sub: "u", iat: Math.floor(t0 / 1000) + 5, sid: "s2", kid: undefined })).toBe("session revoked");
  });
});
