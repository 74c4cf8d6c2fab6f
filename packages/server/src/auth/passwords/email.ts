/**
 * Email normalization shared by sign-up, login, invites and abuse limits: trimmed,
 * NFKC-normalized (look-alike compatibility forms fold together) and lower-cased.
 */
import { createHash } from "node:crypto";

/** Longest accepted email (RFC 5321 path limit), counted after normalization. */
export const MAX_EMAIL_LENGTH = 254;

/**
 * Longest email as sent (before trimming and NFKC) that is normalized at all: NFKC can
 * grow a string eighteen-fold (U+FDFA), so longer input is refused unread (bounded work).
 */
const MAX_RAW_EMAIL_LENGTH = 4 * MAX_EMAIL_LENGTH;

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

/**
 * The comparison form of an email as sent, or undefined when it is not an acceptable
 * address. Raw input over MAX_RAW_EMAIL_LENGTH is refused before normalizing; the length
 * rule is then checked on the normalized form.
 */
export function validNormalizedEmail(raw: string): string | undefined {
  if (raw.length > MAX_RAW_EMAIL_LENGTH) return undefined;
  const normalized = normalizeEmail(raw);
  return isValidEmail(normalized) ? normalized : undefined;
}

/** A short, non-reversible tag of a normalized email for logs and audit metadata (never the email itself). */
export function emailTag(normalized: string): string {
  return createHash("sha256").update(normalized).digest("hex").slice(0, 16);
}
