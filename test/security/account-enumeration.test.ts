/**
 * Issue 18: SignUp (with AUTH_REQUIRE_VERIFIED_EMAIL) and RequestPasswordReset do not
 * tell registered emails from unregistered ones, by answer or by time. The answers are
 * compared byte for byte (status, body, the headers a client sees); the times as the
 * median ratio of pairs of calls (a known and an unknown email, one right after the
 * other, in alternating order), so load on the machine hits both alike. Both paths do the same work on the request: SignUp one argon2 hash and one
 * insert (refused by the unique index for a taken email); RequestPasswordReset one
 * lookup, the token and the mail being made in the mail queue afterwards.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { useTessera } from "../harness.js";

const PASSWORD = "correct horse battery staple";
const ROUNDS = 24;
const uniqueEmail = (tag: string) => `${tag}-${randomBytes(5).toString("hex")}@example.com`;

interface Answer {
  status: number;
  body: string;
  headers: string;
  ms: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe("account enumeration (issue 18)", () => {
  const t = useTessera({ env: { AUTH_MODE: "full", AUTH_REQUIRE_VERIFIED_EMAIL: "true" }, forwardedFor: true });

  async function call(service: string, method: string, body: unknown): Promise<Answer> {
    const start = performance.now();
    const res = await fetch(`${t.baseUrl}/tessera.v1.${service}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": t.freshIp() },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    const ms = performance.now() - start;
    const headers: string = Array.from(res.headers as unknown as Iterable<[string, string]>)
      .filter(([k]) => k !== "date")
      .map(([k, v]) => `${k}: ${v}`)
      .sort()
      .join("\n");
    return { status: res.status, body: text, headers, ms };
  }

  /** Known and unknown emails in turn; every answer must be the same, and the median times close. */
  async function compare(service: string, method: string, known: string[], body: (email: string) => unknown) {
    const k: Answer[] = [];
    const u: Answer[] = [];
    // Warm-up (first hash, connection, JIT) outside the sample.
    await call(service, method, body(uniqueEmail("warm")));
    // Pairs close in time, in alternating order, so load and warm-up effects fall on both alike.
    for (let i = 0; i < known.length; i++) {
      if (i % 2 === 0) {
        k.push(await call(service, method, body(known[i]!)));
        u.push(await call(service, method, body(uniqueEmail("unknown"))));
      } else {
        u.push(await call(service, method, body(uniqueEmail("unknown"))));
        k.push(await call(service, method, body(known[i]!)));
      }
    }
    for (const a of [...k, ...u])
      expect({ status: a.status, body: a.body, headers: a.headers }).toEqual({ status: k[0]!.status, body: k[0]!.body, headers: k[0]!.headers });
    expect(k[0]!.status).toBe(200);
    // The median of the pairs' ratios: robust to a slow moment hitting a few pairs.
    const ratio = median(k.map((a, i) => a.ms / u[i]!.ms));
    console.info(`${method}: median of known/unknown pair ratios = ${ratio.toFixed(3)} (known ${median(k.map((a) => a.ms)).toFixed(1)} ms)`);
    return ratio;
  }

  /** Registered (unverified) password users. */
  async function registered(): Promise<string[]> {
    const known: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const email = uniqueEmail("taken");
      await t.client(AuthService).signUp({ email, password: PASSWORD });
      known.push(email);
    }
    return known;
  }

  it("SignUp answers a taken and a new email alike, in time too", { timeout: 120_000 }, async () => {
    const known = await registered();
    const ratio = await compare("AuthService", "SignUp", known, (email) => ({ email, password: PASSWORD }));
    // Both do one argon2 hash; the rest is one insert either way. Skipping the hash on one
    // path would put the ratio near 0.1 (or 10); a shared machine moves it by ±30 %.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it("RequestPasswordReset answers a registered and an unknown email alike, in time too", { timeout: 120_000 }, async () => {
    const known = await registered();
    const ratio = await compare("AccountRecoveryService", "RequestPasswordReset", known, (email) => ({ email }));
    // One indexed lookup either way; the bound catches work done on one path only (the
    // token's transaction or the SMTP exchange moved onto the request), not noise.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
