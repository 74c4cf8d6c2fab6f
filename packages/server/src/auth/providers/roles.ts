/**
 * Roles from a provider claim: a claim path names either a top-level claim
 * (`https://example.com/roles`, looked up whole, dots and all) or, when there is no such
 * claim, a dotted path into nested objects (Keycloak's `realm_access.roles`). The claim
 * may be a string or a list of strings; the configured admin value makes the user an
 * instance admin.
 */

/** The value at `path` in `claims` (whole name first, then the dotted path). */
function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let v: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Whether the claim at `path` holds `value` (equal to a string claim, or one of a list's strings). */
export function claimHasRole(claims: Readonly<Record<string, unknown>>, path: string, value: string): boolean {
  const v = claimAt(claims, path);
  if (typeof v === "string") return v === value;
  return Array.isArray(v) && v.some((x) => x === value);
}
