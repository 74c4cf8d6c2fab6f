/**
 * The two codes of a device login (RFC 8628 §6.1): the device code, a 256-bit secret
 * only the program holds (`tdc_` + 43 base64url characters), and the user code a
 * person types: 8 letters of RFC 8628's 20 consonants (no vowels, so no words; no
 * digits, so no 0/O or 1/I), shown as `XXXX-XXXX`: 20^8 ≈ 2.56e10 codes. Both are
 * stored as SHA-256 only.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";

/** RFC 8628 §6.1's example alphabet: the consonants without the ambiguous Y. */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
/** Letters in a user code. */
const USER_CODE_LENGTH = 8;
/** The device code's prefix (so secret scanners can spot one). */
const DEVICE_CODE_PREFIX = "tdc_";
const DEVICE_CODE_RE = /^tdc_[A-Za-z0-9_-]{43}$/;
/** Longest user-code input looked at (anything longer is not a code). */
const MAX_USER_CODE_INPUT = 64;

/** SHA-256 (hex) of a code, as stored. */
export function codeHash(code: string): string {
  return createHash("sha256").update(code).digest("hex");
}

/** A new device code: 256 random bits. */
export function newDeviceCode(): string {
  return DEVICE_CODE_PREFIX + randomBytes(32).toString("base64url");
}

/** True when `code` has the device code's shape. */
export function isDeviceCode(code: string): boolean {
  return DEVICE_CODE_RE.test(code);
}

/** A new user code, normalized (8 letters, no dash); uniform over the alphabet. */
export function newUserCode(): string {
  let s = "";
  for (let i = 0; i < USER_CODE_LENGTH; i++) s += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return s;
}

/**
 * A typed user code in normalized form: NFKC (full-width letters count), case ignored,
 * dashes and white space removed.
 * Undefined when the rest is not 8 letters of the alphabet.
 */
export function normalizeUserCode(input: string): string | undefined {
  if (input.length > MAX_USER_CODE_INPUT) return undefined;
  const s = input
    .normalize("NFKC")
    .toUpperCase()
    .replace(/[\s\-‐-―−]/g, "");
  if (s.length !== USER_CODE_LENGTH) return undefined;
  for (const c of s) if (!USER_CODE_ALPHABET.includes(c)) return undefined;
  return s;
}

/** A normalized user code as shown: `XXXX-XXXX`. */
export function displayUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}
