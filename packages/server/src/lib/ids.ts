/**
 * Identifier helpers shared by every layer: the one UUID check (ids arrive from
 * clients and tokens as strings and are validated before any query).
 */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical (hyphenated, hex) UUID string. */
export function isUuid(v: unknown): v is string {
  return typeof v === "string" && UUID_RE.test(v);
}
