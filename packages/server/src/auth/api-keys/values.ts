/**
 * Which value of a key a hash is (issue 19): the current one, or the old one a
 * regenerate kept valid for an overlap. The database finds candidates by hash; this
 * confirms each match in constant time (`timingSafeEqual` on the hashes) and gives the
 * old value its own expiry (the end of its overlap). Also bounds what a use records.
 */
import { timingSafeEqual } from "node:crypto";
import type { ApiKeyAuthRow } from "../../store/api-keys.js";

/** Longest user agent recorded as a key's last use. */
const MAX_LAST_USED_USER_AGENT = 256;
/** Longest client IP recorded (an IPv6 address with a zone fits). */
const MAX_LAST_USED_IP = 64;

/** True when two SHA-256 hex digests are equal, in constant time. */
function sameApiKeyHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The verification view of `hash` among `rows` (one query's answer): the row whose value
 * or old value it is, with `expires_at` the end of the old value's overlap when it is the
 * old value (never past the key's own expiry). Undefined when no row has it.
 */
export function viewForHash(hash: string, byHash: ReadonlyMap<string, ApiKeyAuthRow>): ApiKeyAuthRow | undefined {
  const row = byHash.get(hash);
  if (!row) return undefined;
  if (sameApiKeyHash(hash, row.key_hash)) return row;
  if (row.previous_key_hash !== null && row.previous_expires_at !== null && sameApiKeyHash(hash, row.previous_key_hash)) {
    const end = Math.min(new Date(row.previous_expires_at).getTime(), new Date(row.expires_at).getTime());
    return { ...row, expires_at: new Date(end) };
  }
  return undefined;
}

/** Indexes one query's rows by every hash they answer to (value and old value). */
export function indexByHash(rows: readonly ApiKeyAuthRow[]): Map<string, ApiKeyAuthRow> {
  const byHash = new Map<string, ApiKeyAuthRow>();
  for (const row of rows) {
    byHash.set(row.key_hash, row);
    if (row.previous_key_hash !== null) byHash.set(row.previous_key_hash, row);
  }
  return byHash;
}

/** What a use records of its request: the client IP and user agent, bounded; undefined when unknown. */
export function boundedUse(request: { clientIp: string; userAgent: string } | undefined): { ip?: string; userAgent?: string } {
  if (!request) return {};
  return {
    ip: request.clientIp ? request.clientIp.slice(0, MAX_LAST_USED_IP) : undefined,
    userAgent: request.userAgent ? [...request.userAgent].slice(0, MAX_LAST_USED_USER_AGENT).join("") : undefined,
  };
}
