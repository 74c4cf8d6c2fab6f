/**
 * The API key format: `tsk_` + 33 random base62 characters (196 bits from the
 * CSPRNG) + a 6-character base62 CRC32 of everything before it. 43 characters in all;
 * secret scanners match `tsk_[0-9A-Za-z]{39}` and may verify the checksum. Keys are
 * stored only as the SHA-256 (hex) of the whole key plus a display prefix.
 */
import { hash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/** Every API key starts with this. */
export const API_KEY_PREFIX = "tsk_";
/** The base62 alphabet, in digit order: 0-9, A-Z, a-z. */
export const BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Random base62 characters after the prefix: 33 x log2(62) = 196 bits. */
const API_KEY_RANDOM_LENGTH = 33;
/** Base62 characters of the CRC32 checksum (62^6 > 2^32). */
const API_KEY_CHECKSUM_LENGTH = 6;
/** Total length of a key. */
export const API_KEY_LENGTH = API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH + API_KEY_CHECKSUM_LENGTH;
/** Characters of the key kept for display (`start`). */
const API_KEY_START_LENGTH = 12;
/** A regular expression secret scanners can use (the checksum narrows it further). */
export const API_KEY_PATTERN = /^tsk_[0-9A-Za-z]{39}$/;

// char code -> base62 digit value, -1 for anything else.
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE62_ALPHABET.length; i++) DIGIT[BASE62_ALPHABET.charCodeAt(i)] = i;

/** The 6-character base62 encoding of an unsigned 32-bit number, zero-padded. */
export function encodeChecksum(n: number): string {
  let out = "";
  let v = n >>> 0;
  for (let i = 0; i < API_KEY_CHECKSUM_LENGTH; i++) {
    out = BASE62_ALPHABET[v % 62]! + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** The checksum characters of a key body (everything before the checksum). */
export function checksumOf(body: string): string {
  return encodeChecksum(crc32(body));
}

/** A new random API key. */
export function generateApiKey(): string {
  let body = API_KEY_PREFIX;
  // Rejection sampling: bytes >= 248 (= 4 * 62) are dropped so every character is uniform.
  while (body.length < API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH) {
    for (const b of randomBytes(48)) {
      if (b < 248 && body.length < API_KEY_PREFIX.length + API_KEY_RANDOM_LENGTH) body += BASE62_ALPHABET[b % 62];
    }
  }
  return body + checksumOf(body);
}

/** True when the token starts with the API key prefix (it is meant to be an API key). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/**
 * True when the token has the exact shape of an API key and its checksum matches.
 * Cheap (no allocation beyond the CRC): run before any cache or database work.
 */
export function isWellFormedApiKey(token: string): boolean {
  if (token.length !== API_KEY_LENGTH || !token.startsWith(API_KEY_PREFIX)) return false;
  for (let i = API_KEY_PREFIX.length; i < API_KEY_LENGTH; i++) {
    const c = token.charCodeAt(i);
    if (c >= 128 || DIGIT[c]! < 0) return false;
  }
  let expected = 0;
  const checksumStart = API_KEY_LENGTH - API_KEY_CHECKSUM_LENGTH;
  for (let i = checksumStart; i < API_KEY_LENGTH; i++) expected = expected * 62 + DIGIT[token.charCodeAt(i)]!;
  return crc32(token.slice(0, checksumStart)) === expected;
}

/** SHA-256 (hex) of the whole key: what the database stores and lookups use. */
export function hashApiKey(key: string): string {
  // One-shot hash: no Hash object per request on the hot path.
  return hash("sha256", key, "hex");
}

/** The display prefix of a key (`start`). */
export function apiKeyStart(key: string): string {
  return key.slice(0, API_KEY_START_LENGTH);
}
