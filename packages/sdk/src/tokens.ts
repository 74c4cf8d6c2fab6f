/**
 * The tokens a signed-in client holds, and where it keeps them.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Tokens as TokensMessage } from "./gen/tessera/v1/auth_pb.js";

/** What a client holds after signing in. Only `accessToken` is required. */
export interface Tokens {
  /** Tessera access token, sent as `Authorization: Bearer <accessToken>`. */
  accessToken: string;
  /** Refresh token; when present the client refreshes the access token itself. */
  refreshToken?: string;
  /** When the access token expires; read from the JWT's `exp` when not given. */
  accessTokenExpiresAt?: Date;
  /** When the refresh token expires, when known. */
  refreshTokenExpiresAt?: Date;
  /** The signed-in user's id, when known. */
  userId?: string;
}

/**
 * Where a client keeps its tokens. Each method may be synchronous or return a
 * promise. The client writes through `set` after every refresh and calls `clear`
 * when the server rejects the refresh token.
 */
export interface TokenStore {
  get(): Tokens | undefined | Promise<Tokens | undefined>;
  set(tokens: Tokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** A token store that keeps the tokens in memory (the default). */
export function createMemoryTokenStore(initial?: Tokens): TokenStore {
  let current = initial;
  return {
    get: () => current,
    set: (t) => {
      current = t;
    },
    clear: () => {
      current = undefined;
    },
  };
}

/** Converts the wire `tessera.v1.Tokens` into SDK Tokens. */
export function tokensFromMessage(m: TokensMessage): Tokens {
  return {
    accessToken: m.accessToken,
    refreshToken: m.refreshToken || undefined,
    accessTokenExpiresAt: m.accessTokenExpiresAt ? timestampDate(m.accessTokenExpiresAt) : undefined,
    refreshTokenExpiresAt: m.refreshTokenExpiresAt ? timestampDate(m.refreshTokenExpiresAt) : undefined,
    userId: m.userId || undefined,
  };
}

/**
 * The access token's expiry: the stored one, else the `exp` claim when the token
 * is a JWT (read, not verified: only used to refresh early). Undefined when unknown.
 */
export function accessTokenExpiry(t: Tokens): Date | undefined {
  if (t.accessTokenExpiresAt) return t.accessTokenExpiresAt;
  const parts = t.accessToken.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { exp?: unknown };
    return typeof payload.exp === "number" ? new Date(payload.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}
