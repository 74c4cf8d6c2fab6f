/**
 * The second factor at sign-in (docs/mfa.md): a sign-in of a user with TOTP answers an
 * MFA challenge instead of tokens; `signIn` rejects with `MfaRequiredError` carrying it,
 * and `verifyMfa(challenge, { code } | { recoveryCode })` completes the sign-in.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { MfaChallenge as MfaChallengeMessage, Tokens as TokensMessage } from "./gen/tessera/v1/auth_pb.js";
import { tokensFromMessage, type Tokens } from "./tokens.js";

/** A sign-in waiting for its second factor (from Login or ExchangeCode). */
export interface MfaChallenge {
  /** Opaque, secret, single-use: pass it to `verifyMfa`. */
  challenge: string;
  /** What `verifyMfa` accepts: `"totp"`, `"recovery_code"`. */
  methods: string[];
  /** When the challenge stops working (5 minutes after the password was checked). */
  expiresAt?: Date;
}

/** The second factor: a current 6-digit code of the authenticator app, or a recovery code (used up). */
export type MfaProof = { code: string } | { recoveryCode: string };

/** Converts the wire `tessera.v1.MfaChallenge` into the SDK's `MfaChallenge`. */
export function mfaChallengeFromMessage(m: MfaChallengeMessage): MfaChallenge {
  return { challenge: m.challenge, methods: [...m.methods], expiresAt: m.expiresAt ? timestampDate(m.expiresAt) : undefined };
}

/**
 * The password was right, but the user has a second factor: nothing is stored yet. Ask for
 * the code and call `verifyMfa(error.challenge, { code })` (or `{ recoveryCode }`).
 */
export class MfaRequiredError extends Error {
  constructor(readonly challenge: MfaChallenge) {
    super("enter the 6-digit code of your authenticator app (or a recovery code) to finish signing in");
    this.name = "MfaRequiredError";
  }
}

/**
 * The tokens of a sign-in answer (Login, ExchangeCode): rejects with `MfaRequiredError`
 * when the answer is an MFA challenge instead. For code that calls those RPCs itself
 * (a provider login); `signIn` does this for you.
 */
export function tokensFromSignIn(res: { tokens?: TokensMessage; mfaChallenge?: MfaChallengeMessage }): Tokens {
  if (res.mfaChallenge) throw new MfaRequiredError(mfaChallengeFromMessage(res.mfaChallenge));
  if (!res.tokens) throw new Error("the sign-in answered without tokens");
  return tokensFromMessage(res.tokens);
}
