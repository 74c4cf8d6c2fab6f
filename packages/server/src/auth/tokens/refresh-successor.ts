/**
 * Sealing a rotation's successor so that a retry of the rotated token inside the grace
 * window gets the same successor back. The database keeps only SHA-256 hashes of refresh
 * tokens, so the successor's value is kept AES-256-GCM-sealed under a key derived (HKDF)
 * from the token it replaced, bound to that token's row: only a holder of the replaced
 * token can open it, and a database reader (who has hashes, never a token) cannot.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const INFO = "tessera refresh-token successor v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Which rotation a sealed successor belongs to: the family and the row of the replaced token. */
export interface SealBinding {
  familyId: string;
  tokenId: string;
}

function keyFor(replaced: string, b: SealBinding): Buffer {
  return Buffer.from(hkdfSync("sha256", replaced, b.tokenId, INFO, 32));
}

function aad(b: SealBinding): Buffer {
  return Buffer.from(`${b.familyId}:${b.tokenId}`, "utf8");
}

/** Seals `successor` under the token it replaced (`replaced`); base64url text for the database. */
export function sealSuccessor(replaced: string, binding: SealBinding, successor: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keyFor(replaced, binding), iv);
  cipher.setAAD(aad(binding));
  const body = Buffer.concat([cipher.update(successor, "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

/** Opens a sealed successor with the replaced token; undefined when it was sealed for another token or rotation. */
export function openSuccessor(replaced: string, binding: SealBinding, sealed: string): string | undefined {
  const raw = Buffer.from(sealed, "base64url");
  if (raw.length <= IV_BYTES + TAG_BYTES || raw.length > 256) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyFor(replaced, binding), raw.subarray(0, IV_BYTES));
    decipher.setAAD(aad(binding));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
