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

export interface SessionIssuer {
  /** Starts a new session (refresh family) for the user and returns its first tokens. */
  startSession(userId: string, request: RequestInfo): Promise<IssuedTokens>;
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
