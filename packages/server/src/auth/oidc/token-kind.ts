/**
 * Tells a provider's access tokens from its ID tokens (and other JWTs it signs with the
 * same keys), so that only access tokens authenticate as bearers (RFC 9068 section 4
 * and 5, RFC 8725 sections 2.8 and 3.11, OpenID Connect Core 1.0 section 2).
 *
 * RFC 9068 access tokens say what they are (`typ: at+jwt`), but many providers predate it
 * (Keycloak, Auth0 by default, Azure AD, Okta sign access tokens `typ: JWT` or untyped), and
 * claims such as `azp`, `auth_time`, `acr` and `sid` appear in both kinds. So a token is
 * refused when it carries a mark only other kinds carry, and, for the marks some access
 * tokens share (`nonce`: Keycloak before 25; `aud` naming the login client), when it
 * carries no access-token evidence either.
 */
import type { JWTHeaderParameters, JWTPayload } from "jose";

/** Header `typ` values of access tokens (compared case-insensitively; absent is allowed too). */
const ACCESS_TYPES = new Set(["jwt", "at+jwt", "application/at+jwt"]);
/** Claims only ID tokens carry: hashes binding the code, access token and state (OIDC Core 3.3.2.11, FAPI). */
const ID_TOKEN_HASHES = ["at_hash", "c_hash", "s_hash"] as const;
/** Keycloak's `typ` claim: `Bearer` on access tokens, `ID`, `Refresh`, `Logout` on the others. */
const ACCESS_TYP_CLAIMS = new Set(["bearer", "at+jwt"]);

function typOf(header: JWTHeaderParameters): string | undefined {
  return typeof header.typ === "string" ? header.typ.toLowerCase() : undefined;
}

/** True when the token says it is an access token: RFC 9068 typing, `client_id`, `scope`/`scp`, or Keycloak's `typ: Bearer`. */
function hasAccessTokenEvidence(header: JWTHeaderParameters, payload: JWTPayload): boolean {
  const typ = typOf(header);
  if (typ === "at+jwt" || typ === "application/at+jwt") return true;
  if (typeof payload.client_id === "string" || payload.scope !== undefined || payload.scp !== undefined) return true;
  return typeof payload.typ === "string" && payload.typ.toLowerCase() === "bearer";
}

/**
 * Why a verified provider token is not an access token (a short, secret-free reason), or
 * undefined when it may be used as a bearer. `loginClientId` is `AUTH_CLIENT_ID` ("" when unset).
 */
export function notAnAccessTokenReason(header: JWTHeaderParameters, payload: JWTPayload, loginClientId: string): string | undefined {
  const typ = typOf(header);
  if (typ !== undefined && !ACCESS_TYPES.has(typ)) return `a token of type ${JSON.stringify(String(header.typ).slice(0, 40))} is not an access token`;
  for (const claim of ID_TOKEN_HASHES) {
    if (payload[claim] !== undefined) return `an ID token is not an access token (${claim})`;
  }
  if (payload.events !== undefined) return "a security event or logout token is not an access token";
  if (payload.typ !== undefined && !(typeof payload.typ === "string" && ACCESS_TYP_CLAIMS.has(payload.typ.toLowerCase()))) {
    return "an ID token is not an access token (typ claim)";
  }
  if (hasAccessTokenEvidence(header, payload)) return undefined;
  if (payload.nonce !== undefined) return "an ID token is not an access token (nonce)";
  const aud = payload.aud;
  if (loginClientId !== "" && (aud === loginClientId || (Array.isArray(aud) && aud.includes(loginClientId)))) {
    return "an ID token is not an access token (aud is the login client)";
  }
  return undefined;
}
