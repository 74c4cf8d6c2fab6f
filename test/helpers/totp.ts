/**
 * RFC 6238 TOTP for tests (SHA-1, 6 digits, 30-second steps, as Tessera and every
 * authenticator app use): the tests compute the codes a person's app would show.
 */
import { createHmac } from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Decodes RFC 4648 base32 (case-insensitive; padding and spaces ignored). */
function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=]/g, "");
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 4226 HOTP of a raw key at a counter (SHA-1 unless told). */
export function hotp(key: Buffer, counter: number, digits = 6, algorithm = "sha1"): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(bin).padStart(digits, "0");
}

/** The TOTP code of a base32 secret at `atMs` (default now), `stepOffset` steps away. */
export function totp(secretBase32: string, atMs = Date.now(), stepOffset = 0): string {
  return hotp(base32Decode(secretBase32), Math.floor(atMs / 30_000) + stepOffset);
}

/** The clock the server runs on, as the harness gives it (`t.clock`). */
interface MovableClock {
  now: () => Date;
  advance(seconds: number): void;
}

/**
 * A code of the secret the server has not seen yet: it accepts each code once and (as
 * replay protection) none of an earlier step, with ±1 step of skew. So the next step
 * after the last one handed out, as long as it is at most one step ahead of the server's
 * clock; else the server's clock moves on one step (tests never wait 30 seconds). `used`
 * remembers the steps handed out.
 */
export function freshTotp(secretBase32: string, used: Set<number>, clock: MovableClock): string {
  for (;;) {
    const now = Math.floor(clock.now().getTime() / 30_000);
    const step = Math.max(now, Math.max(-1, ...used) + 1);
    if (step <= now + 1) {
      used.add(step);
      return hotp(base32Decode(secretBase32), step);
    }
    clock.advance(30);
  }
}
