/**
 * The second factor's pure parts (issue 18): RFC 6238's published SHA-1 test vectors
 * (Appendix B, 8 digits, and their 6-digit truncation), RFC 4648's base32 test vectors,
 * the ±1 step window and replay rule, the `otpauth://` URI, recovery codes, and the
 * AES-256-GCM secret box (bound to the user, refusing unknown keys, rotating).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode } from "../../packages/server/src/auth/mfa/base32.js";
import { newRecoveryCodes, normalizeRecoveryCode } from "../../packages/server/src/auth/mfa/recovery-codes.js";
import { createMfaKeys } from "../../packages/server/src/auth/mfa/secret-box.js";
import { hotp, matchTotp, otpauthUri, totpCode, totpStep } from "../../packages/server/src/auth/mfa/totp.js";
import { parseMfaKey } from "../../packages/server/src/config/mfa-config.js";

const RFC_SECRET = Buffer.from("12345678901234567890", "ascii");
/** RFC 6238 Appendix B, the SHA-1 rows: Unix time → 8-digit TOTP. */
const RFC_6238_SHA1: ReadonlyArray<[number, string]> = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP (RFC 6238)", () => {
  it("passes the RFC 6238 Appendix B SHA-1 test vectors (8 digits) and their 6-digit truncation", () => {
    for (const [seconds, expected] of RFC_6238_SHA1) {
      const at = new Date(seconds * 1000);
      expect(hotp(RFC_SECRET, totpStep(at), 8)).toBe(expected);
      expect(totpCode(RFC_SECRET, at)).toBe(expected.slice(2));
    }
  });

  it("passes the RFC 4226 Appendix D HOTP values", () => {
    const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
    for (const [counter, code] of expected.entries()) expect(hotp(RFC_SECRET, counter)).toBe(code);
  });

  it("accepts the current step and one either side, refuses two steps away and any step at or before the last one used", () => {
    const now = new Date(1_700_000_000_000);
    const step = totpStep(now);
    const at = (s: number) => new Date((step + s) * 30_000);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, now), now, 0)).toBe(step);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, at(-1)), now, 0)).toBe(step - 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, at(1)), now, 0)).toBe(step + 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, at(-2)), now, 0)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, at(2)), now, 0)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, now), now, step)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, ` ${totpCode(RFC_SECRET, now).slice(0, 3)} ${totpCode(RFC_SECRET, now).slice(3)}`, now, 0)).toBe(step);
    expect(matchTotp(RFC_SECRET, "12345", now, 0)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, "abcdef", now, 0)).toBeUndefined();
  });

  it("builds an otpauth URI with the issuer and the percent-encoded email", () => {
    const uri = otpauthUri(RFC_SECRET, "Acme Corp", "ann+mfa@example.com");
    expect(uri).toBe(
      "otpauth://totp/Acme%20Corp:ann%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30",
    );
  });
});

describe("base32 (RFC 4648)", () => {
  it("passes the RFC 4648 §10 test vectors (without padding) and decodes what it encodes", () => {
    const vectors: Array<[string, string]> = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(base32Decode(encoded)?.toString()).toBe(plain);
    }
    expect(base32Decode("mzxw-6ytb oi======")?.toString()).toBe("foobar");
    expect(base32Decode("MZXW1")).toBeUndefined();
    const random = randomBytes(20);
    expect(base32Decode(base32Encode(random))).toEqual(random);
  });
});

describe("recovery codes", () => {
  it("are 10 distinct xxxxx-xxxxx codes of 50 bits that normalize forgivingly", () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    expect(normalizeRecoveryCode(" ABCDE-FGH1O ")).toBe("abcdefgh10");
    expect(normalizeRecoveryCode("abcdefghIo")).toBe("abcdefgh10");
    expect(normalizeRecoveryCode("abcde-fghu0")).toBeUndefined();
    expect(normalizeRecoveryCode("abcd")).toBeUndefined();
  });
});

describe("MFA secret box (AES-256-GCM)", () => {
  const userId = "0b8e3c9e-4a57-4f1e-9d6f-1c5b0f3a2d11";
  it("opens what it sealed for the same user only, and fails closed under another key", () => {
    const key = randomBytes(32);
    const box = createMfaKeys(key);
    const secret = randomBytes(20);
    const sealed = box.seal(secret, userId);
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\./);
    expect(sealed).not.toContain(base32Encode(secret));
    expect(box.open(sealed, userId)).toEqual(secret);
    expect(box.open(sealed, "another-user")).toBeUndefined();
    expect(createMfaKeys(randomBytes(32)).open(sealed, userId)).toBeUndefined();
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BA" : "AA");
    expect(box.open(tampered, userId)).toBeUndefined();
  });

  it("rotates: the new key opens nothing old by itself, with the previous key it opens both and seals under the new one", () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const secret = randomBytes(20);
    const sealedOld = createMfaKeys(oldKey).seal(secret, userId);
    const oldCode = createMfaKeys(oldKey).codeHash("abcdefgh10");
    expect(createMfaKeys(newKey).open(sealedOld, userId)).toBeUndefined();
    const rotated = createMfaKeys(newKey, [oldKey]);
    expect(rotated.open(sealedOld, userId)).toEqual(secret);
    expect(rotated.seal(secret, userId).split(".")[1]).toBe(rotated.currentKid);
    expect(rotated.codeHashes("abcdefgh10")).toContain(oldCode);
    expect(rotated.codeHash("abcdefgh10")).not.toBe(oldCode);
  });

  it("reads keys as 64 hex digits or base64 and names the variable otherwise", () => {
    const key = randomBytes(32);
    expect(parseMfaKey(key.toString("hex"), "MFA_ENCRYPTION_KEY")).toEqual(key);
    expect(parseMfaKey(key.toString("base64"), "MFA_ENCRYPTION_KEY")).toEqual(key);
    expect(parseMfaKey(key.toString("base64url"), "MFA_ENCRYPTION_KEY")).toEqual(key);
    expect(() => parseMfaKey("too short", "MFA_ENCRYPTION_KEY")).toThrow(/MFA_ENCRYPTION_KEY.*32 bytes/);
  });
});
