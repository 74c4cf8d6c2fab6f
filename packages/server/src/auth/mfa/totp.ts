/**
 * TOTP (RFC 6238) over HOTP (RFC 4226) with node:crypto only: HMAC-SHA-1, 30-second
 * steps from the Unix epoch, 6 digits (what every authenticator app does with an
 * `otpauth://` URI that says so). A code is checked against the current step and one
 * step either side (clock skew), never against a step at or before the last one
 * accepted (no replay: the caller stores the step it gets back, atomically).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { base32Encode } from "./base32.js";

/** Seconds per step. */
const TOTP_PERIOD_SECONDS = 30;
/** Digits of a code. */
const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
const SKEW_STEPS = 1;
/** Secret size: 160 bits, RFC 4226 §4's recommendation for HMAC-SHA-1. */
const SECRET_BYTES = 20;
const CODE_RE = /^\d{6}$/;

/** A new random secret. */
export function newTotpSecret(): Buffer {
  return randomBytes(SECRET_BYTES);
}

/** HOTP (RFC 4226 §5.3): the HMAC-SHA-1 of the 8-byte counter, dynamically truncated to `digits`. */
export function hotp(secret: Uint8Array, counter: number | bigint, digits = TOTP_DIGITS, algorithm = "sha1"): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** The step (RFC 6238 T) of a moment. */
export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of a secret at a moment. */
export function totpCode(secret: Uint8Array, at: Date, digits = TOTP_DIGITS): string {
  return hotp(secret, totpStep(at), digits);
}

/** True for a string shaped like a code (6 digits); spaces are removed first by `cleanCode`. */
function cleanCode(code: string): string | undefined {
  const c = code.replace(/\s/g, "");
  return CODE_RE.test(c) ? c : undefined;
}

/**
 * The step a code matches (the current one or one either side), newer than
 * `lastUsedStep`; undefined when none does. Every candidate is compared in constant time.
 */
export function matchTotp(secret: Uint8Array, code: string, now: Date, lastUsedStep: number): number | undefined {
  const clean = cleanCode(code);
  if (clean === undefined) return undefined;
  const given = Buffer.from(clean);
  const current = totpStep(now);
  let found: number | undefined;
  for (let step = current - SKEW_STEPS; step <= current + SKEW_STEPS; step++) {
    const same = timingSafeEqual(Buffer.from(hotp(secret, step)), given);
    if (same && step > lastUsedStep && found === undefined) found = step;
  }
  return found;
}

/**
 * The `otpauth://totp/` URI of Google Authenticator's Key Uri Format: label
 * `issuer:account`, both percent-encoded, and the parameters apps read.
 */
export function otpauthUri(secret: Uint8Array, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = `secret=${base32Encode(secret)}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`;
  return `otpauth://totp/${label}?${params}`;
}
