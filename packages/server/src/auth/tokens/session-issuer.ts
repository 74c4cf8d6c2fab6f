/**
 * The seam between sign-in methods and Tessera's own tokens: every way of signing in
 * (password, admin, OpenID provider) ends by asking the SessionIssuer for tokens.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { RequestInfo } from "../../lib/request-info.js";

/** The wire shape of `tessera.v1.Tokens` (dates instead of Timestamps). */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  accessTokenExpiresAt: Date;
  refreshTokenExpiresAt: Date;
  userId: string;
}

/**
 * How a session was signed in: RFC 8176 `amr` values (`pwd` password, `fed` an identity
 * provider, `otp` a TOTP code, `mfa` a second factor passed) and the assurance level
 * (NIST SP 800-63B AAL: 2 after a second factor, else 1). Kept on the session, so every
 * access token its refreshes issue says the same.
 */
export interface SignIn {
  amr: readonly string[];
  assuranceLevel: 1 | 2;
}

/** A password sign-in without a second factor. */
export const PASSWORD_SIGN_IN: SignIn = Object.freeze({ amr: Object.freeze(["pwd"]), assuranceLevel: 1 });
/** A sign-in through an identity provider without a second factor at Tessera. */
export const PROVIDER_SIGN_IN: SignIn = Object.freeze({ amr: Object.freeze(["fed"]), assuranceLevel: 1 });

export interface SessionIssuer {
  /** Starts a new session (refresh family) for the user, signed in as `signIn` says, and returns its first tokens. */
  startSession(userId: string, request: RequestInfo, signIn: SignIn): Promise<IssuedTokens>;
}

/** IssuedTokens as the `tessera.v1.Tokens` message. */
export function tokensToWire(t: IssuedTokens) {
  return {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    tokenType: t.tokenType,
    expiresIn: BigInt(t.expiresIn),
    accessTokenExpiresAt: timestampFromDate(t.accessTokenExpiresAt),
    refreshTokenExpiresAt: timestampFromDate(t.refreshTokenExpiresAt),
    userId: t.userId,
  };
}
