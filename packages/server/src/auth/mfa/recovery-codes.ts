/**
 * Recovery codes: 10 per user, each 10 characters of a 32-character alphabet without
 * look-alikes (50 random bits), shown as `xxxxx-xxxxx`, stored only as keyed hashes
 * (secret-box.ts), used once (an UPDATE ... WHERE used_at IS NULL decides: store/mfa.ts).
 */
import { randomInt } from "node:crypto";

/** How many codes a user gets at a time. */
const RECOVERY_CODE_COUNT = 10;
/** Crockford's base32 letters (no I, L, O, U): read aloud and typed without confusion. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LENGTH = 10;

/** A new code, as shown: `xxxxx-xxxxx`. */
function newRecoveryCode(): string {
  let s = "";
  for (let i = 0; i < LENGTH; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** A fresh set of codes. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

/**
 * A typed code in its canonical form (lower case, no dash or spaces; i/l → 1, o → 0 as
 * Crockford reads them), or undefined when it cannot be one.
 */
export function normalizeRecoveryCode(code: string): string | undefined {
  if (code.length > 64) return undefined;
  const c = code.toLowerCase().replace(/[\s-]/g, "").replace(/[il]/g, "1").replace(/o/g, "0");
  if (c.length !== LENGTH) return undefined;
  for (const ch of c) if (!ALPHABET.includes(ch)) return undefined;
  return c;
}
