/**
 * Certificate thumbprints as RFC 8705 §3.1 writes them (`x5t#S256`): the SHA-256 of the
 * DER certificate, base64url without padding (43 characters).
 */
import { createHash, timingSafeEqual } from "node:crypto";

const THUMBPRINT_RE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** True for a well-formed SHA-256 thumbprint (43 base64url characters encoding 32 bytes). */
export function isThumbprint(s: string): boolean {
  return THUMBPRINT_RE.test(s);
}

/** Whether two thumbprints are equal, compared in constant time (over their SHA-256, so lengths never leak). */
export function sameThumbprint(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
