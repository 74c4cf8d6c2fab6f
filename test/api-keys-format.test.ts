/**
 * The API key format: shape, alphabet, checksum, hashing; property tests with fast-check.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { crc32 } from "node:zlib";
import {
  API_KEY_LENGTH,
  API_KEY_PATTERN,
  API_KEY_PREFIX,
  BASE62_ALPHABET,
  apiKeyStart,
  checksumOf,
  encodeChecksum,
  generateApiKey,
  hashApiKey,
  isWellFormedApiKey,
} from "../packages/server/src/auth/api-keys/format.js";

const base62Char = fc.constantFrom(...BASE62_ALPHABET.split(""));
/** Arbitrary key built from an arbitrary 33-character base62 body, with its checksum. */
const arbitraryKey = fc.array(base62Char, { minLength: 33, maxLength: 33 }).map((cs) => {
  const body = API_KEY_PREFIX + cs.join("");
  return body + checksumOf(body);
});

describe("api key format", () => {
  it("generates tsk_ + 33 base62 + 6 checksum characters (43 in all)", () => {
    for (let i = 0; i < 200; i++) {
      const key = generateApiKey();
      expect(key).toHaveLength(43);
      expect(API_KEY_LENGTH).toBe(43);
      expect(key).toMatch(API_KEY_PATTERN);
      expect(key).toMatch(/^tsk_[0-9A-Za-z]{39}$/);
      expect(isWellFormedApiKey(key)).toBe(true);
      expect(key.slice(-6)).toBe(encodeChecksum(crc32(key.slice(0, -6))));
    }
  });

  it("has at least 190 bits of randomness and uses the whole alphabet roughly uniformly", () => {
    expect(33 * Math.log2(62)).toBeGreaterThanOrEqual(190);
    const counts = new Map<string, number>();
    const n = 2000;
    for (let i = 0; i < n; i++) for (const c of generateApiKey().slice(4, 37)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (n * 33) / 62;
    for (const v of counts.values()) {
      expect(v).toBeGreaterThan(expected * 0.8);
      expect(v).toBeLessThan(expected * 1.2);
    }
  });

  it("generates distinct keys", () => {
    const keys = new Set(Array.from({ length: 10_000 }, generateApiKey));
    expect(keys.size).toBe(10_000);
  });

  it("encodes checksums as 6 zero-padded base62 digits", () => {
    expect(encodeChecksum(0)).toBe("000000");
    expect(encodeChecksum(61)).toBe("00000z");
    expect(encodeChecksum(62)).toBe("000010");
    expect(encodeChecksum(0xffffffff)).toBe("4gfFC3");
  });

  it("round-trips any key with a correct checksum (property)", () => {
    fc.assert(
      fc.property(arbitraryKey, (key) => {
        expect(isWellFormedApiKey(key)).toBe(true);
        expect(key).toMatch(API_KEY_PATTERN);
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects a key with any single character changed (property)", () => {
    fc.assert(
      fc.property(
        arbitraryKey,
        fc.nat({ max: API_KEY_LENGTH - 1 }),
        fc.oneof(base62Char, fc.constantFrom("_", "-", ".", "~", "+", "/", "=", " ", "é", "\u0000")),
        (key, index, replacement) => {
          fc.pre(key[index] !== replacement);
          const changed = key.slice(0, index) + replacement + key.slice(index + 1);
          expect(isWellFormedApiKey(changed)).toBe(false);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("rejects every single-character change of a generated key (exhaustive over the alphabet)", () => {
    const key = generateApiKey();
    for (let i = 0; i < key.length; i++) {
      for (const c of `${BASE62_ALPHABET}_`) {
        if (c === key[i]) continue;
        expect(isWellFormedApiKey(key.slice(0, i) + c + key.slice(i + 1))).toBe(false);
      }
    }
  });

  it("rejects wrong shapes before any other work", () => {
    const key = generateApiKey();
    for (const bad of [
      "",
      "tsk_",
      key.slice(0, -1),
      `${key}0`,
      key.toUpperCase(),
      `TSK_${key.slice(4)}`,
      `tsk-${key.slice(4)}`,
      `${key.slice(0, 10)}_${key.slice(11)}`,
      "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ]) {
      expect(isWellFormedApiKey(bad)).toBe(false);
    }
  });

  it("rejects arbitrary strings (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        fc.pre(!(s.length === 43 && s.startsWith("tsk_")));
        expect(isWellFormedApiKey(s)).toBe(false);
      }),
    );
  });

  it("hashes with SHA-256 hex and keeps a 12-character display prefix", () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).not.toBe(hashApiKey(generateApiKey()));
    expect(apiKeyStart(key)).toBe(key.slice(0, 12));
    expect(apiKeyStart(key).startsWith("tsk_")).toBe(true);
  });
});
