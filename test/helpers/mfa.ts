/**
 * The second factor in tests: enrol a user through MfaService and compute the codes an
 * authenticator app would show, on the harness's clock.
 */
import type { Client } from "@connectrpc/connect";
import { expect } from "vitest";
import type { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import type { MfaService } from "../../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import { base32Decode } from "../../packages/server/src/auth/mfa/base32.js";
import { totpCode } from "../../packages/server/src/auth/mfa/totp.js";

/** What enrolment gave: the secret (base32 and bytes) and the recovery codes. */
export interface Enrolled {
  secret: string;
  key: Buffer;
  otpauthUri: string;
  recoveryCodes: string[];
}

/**
 * Enrols TOTP for the holder of `mfa`'s token, confirming with the code of `now`.
 * `password`: the user's (empty for a provider-only user, who needs a recent sign-in).
 */
export async function enrolTotp(mfa: Client<typeof MfaService>, now: () => Date, password: string): Promise<Enrolled> {
  const started = await mfa.startTotpEnrollment({ password });
  const key = base32Decode(started.secret)!;
  const { recoveryCodes } = await mfa.confirmTotpEnrollment({ code: totpCode(key, now()) });
  return { secret: started.secret, key, otpauthUri: started.otpauthUri, recoveryCodes };
}

/** The code of `key` at `now` moved by `steps` 30-second steps. */
export function codeAt(key: Buffer, now: Date, steps = 0): string {
  return totpCode(key, new Date(now.getTime() + steps * 30_000));
}

/** Logs in with a password and expects a challenge instead of tokens; returns it. */
export async function loginChallenge(auth: Client<typeof AuthService>, email: string, password: string): Promise<string> {
  const res = await auth.login({ email, password });
  expect(res.tokens).toBeUndefined();
  expect(res.mfaChallenge?.methods).toEqual(["totp", "recovery_code"]);
  return res.mfaChallenge!.challenge;
}
