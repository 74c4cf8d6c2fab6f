/**
 * The MFA encryption keys (MFA_ENCRYPTION_KEY, 32 bytes held outside the database):
 * TOTP secrets are sealed with AES-256-GCM, bound to their user (the user id is the
 * additional authenticated data: a ciphertext copied to another user's row does not
 * open), as `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url), where `kid` names the key
 * (the first 8 hex digits of a hash of it). Old rows open with MFA_ENCRYPTION_KEY_PREVIOUS
 * while keys rotate; a ciphertext no known key opens is refused (fail closed).
 * Recovery codes are kept as `<kid>.<HMAC-SHA-256>` under a key derived from the same key,
 * so a copy of the database alone cannot test guesses of them offline.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "v1";
const IV_BYTES = 12;

interface Key {
  kid: string;
  aead: Buffer;
  mac: Buffer;
}

export interface MfaKeys {
  /** The id of the key new ciphertexts are sealed under. */
  readonly currentKid: string;
  /** Seals a secret for a user under the current key. */
  seal(plaintext: Uint8Array, userId: string): string;
  /** Opens a sealed secret of a user; undefined when no known key opens it. */
  open(sealed: string, userId: string): Buffer | undefined;
  /** The stored form of a recovery code under the current key. */
  codeHash(normalizedCode: string): string;
  /** Its stored form under every known key (a code stored before a rotation still matches). */
  codeHashes(normalizedCode: string): string[];
}

function derive(raw: Buffer): Key {
  const kid = createHash("sha256").update("tessera mfa key id\0").update(raw).digest("hex").slice(0, 8);
  const sub = (info: string) => Buffer.from(hkdfSync("sha256", raw, Buffer.alloc(0), info, 32));
  return { kid, aead: sub("tessera mfa totp secrets"), mac: sub("tessera mfa recovery codes") };
}

/** Builds the key ring: `current` seals, `previous` (if any) only opens. Each key is 32 bytes. */
export function createMfaKeys(current: Buffer, previous: readonly Buffer[] = []): MfaKeys {
  const cur = derive(current);
  const all = [cur, ...previous.map(derive).filter((k) => k.kid !== cur.kid)];
  const mac = (k: Key, code: string) => `${k.kid}.${createHmac("sha256", k.mac).update(code, "utf8").digest("hex")}`;
  return {
    currentKid: cur.kid,
    seal(plaintext, userId) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", cur.aead, iv);
      cipher.setAAD(Buffer.from(`${VERSION}.${cur.kid}.${userId}`, "utf8"));
      const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return [VERSION, cur.kid, iv.toString("base64url"), ct.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
    },
    open(sealed, userId) {
      const parts = sealed.split(".");
      if (parts.length !== 5 || parts[0] !== VERSION) return undefined;
      const [, kid, iv, ct, tag] = parts as [string, string, string, string, string];
      const key = all.find((k) => k.kid === kid);
      if (!key) return undefined;
      try {
        const decipher = createDecipheriv("aes-256-gcm", key.aead, Buffer.from(iv, "base64url"));
        decipher.setAAD(Buffer.from(`${VERSION}.${kid}.${userId}`, "utf8"));
        decipher.setAuthTag(Buffer.from(tag, "base64url"));
        return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]);
      } catch {
        return undefined;
      }
    },
    codeHash: (code) => mac(cur, code),
    codeHashes: (code) => all.map((k) => mac(k, code)),
  };
}
