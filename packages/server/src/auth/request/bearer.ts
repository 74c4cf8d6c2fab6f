/**
 * Parses `Authorization: Bearer <token>`: the scheme case-insensitive, exactly one
 * space, a token of RFC 6750 `b64token` characters, at most 16 KiB.
 */

/** Longest bearer token accepted; longer ones are rejected before any parsing. */
export const MAX_BEARER_LENGTH = 16 * 1024;

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Result of parsing an Authorization header. */
export type BearerParse = { ok: true; token: string } | { ok: false; reason: "missing" | "malformed" };

/** Parses an Authorization header value (or null when absent). Never throws. */
export function parseBearer(header: string | null | undefined): BearerParse {
  if (header === null || header === undefined || header === "") return { ok: false, reason: "missing" };
  if (header.length > MAX_BEARER_LENGTH + 7) return { ok: false, reason: "malformed" };
  if (header.length < 8 || header.slice(0, 7).toLowerCase() !== "bearer ") return { ok: false, reason: "malformed" };
  const token = header.slice(7);
  if (!B64TOKEN.test(token)) return { ok: false, reason: "malformed" };
  return { ok: true, token };
}
