/**
 * Email normalization shared by sign-up, login, invites and abuse limits: trimmed,
 * NFKC-normalized (look-alike compatibility forms fold together) and lower-cased.
 */

/** Longest accepted email (RFC 5321 path limit). */
export const MAX_EMAIL_LENGTH = 254;

/** The comparison form of an email. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFKC").toLowerCase();
}

// One @, no whitespace or control characters, a dot in the domain. Deliberately simple.
const EMAIL_RE = /^[^\s@\p{Cc}\p{Cf}]+@[^\s@\p{Cc}\p{Cf}]+\.[^\s@\p{Cc}\p{Cf}]+$/u;

/** True when a normalized email has an acceptable shape and length. */
export function isValidEmail(normalized: string): boolean {
  return normalized.length > 0 && normalized.length <= MAX_EMAIL_LENGTH && EMAIL_RE.test(normalized);
}
