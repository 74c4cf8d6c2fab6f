/**
 * The tokens of links sent by mail (issue 18): 256 random bits as base64url (43
 * characters), stored only as their SHA-256; compared by looking the hash up (an
 * indexed equality on a hash of a high-entropy value leaks nothing usable by timing).
 */
import { createHash, randomBytes } from "node:crypto";

/** A verification link works this long. */
export const VERIFY_EMAIL_TTL_MS = 24 * 3600_000;
/** A password-reset link works this long. */
export const PASSWORD_RESET_TTL_MS = 30 * 60_000;

const FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** A new token and its hash. */
export function newEmailToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashEmailToken(token) };
}

/** The stored form of a token: SHA-256, hex. */
export function hashEmailToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Whether a string has the shape of a token (checked before any database work). */
export function isEmailTokenFormat(token: string): boolean {
  return FORMAT.test(token);
}
