/**
 * The OpenID Connect provider `default` (AUTH_BASEURL and its companions) and the
 * provider's admin API (AUTH_API_*), with the rules between their variables.
 */
import { ConfigError } from "./config-error.js";
import type { OidcConfig } from "./provider-types.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** The provider admin APIs Tessera can read member details from. */
type AdminApiProvider = "auth0" | "keycloak";

/** The provider's admin API, for member details. */
export interface AdminApiConfig {
  provider: AdminApiProvider;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

/**
 * The provider `default`, when AUTH_BASEURL is set (Neosync's variables, unchanged). AUTH_AUDIENCE is required unless AUTH_CLIENT_ID
 * is set (login only), and must never contain AUTH_CLIENT_ID.
 */
export function oidcConfig(env: Env, allowedRedirectUris: string[]): OidcConfig | undefined {
  const baseUrl = read(env, V.AUTH_BASEURL);
  if (baseUrl === undefined) return undefined;
  const audiences = read(env, V.AUTH_AUDIENCE);
  const clientId = read(env, V.AUTH_CLIENT_ID) ?? "";
  if (audiences.length === 0 && clientId === "") {
    throw new ConfigError("AUTH_AUDIENCE", "required when AUTH_BASEURL is set without AUTH_CLIENT_ID (comma- or space-separated)");
  }
  if (clientId !== "" && audiences.includes(clientId)) {
    // The provider's ID tokens for the login client carry aud = AUTH_CLIENT_ID (RFC 9068 section 5).
    throw new ConfigError(
      "AUTH_AUDIENCE",
      `must not contain AUTH_CLIENT_ID (${JSON.stringify(clientId)}): that is the audience of the provider's ID tokens for the login, ` +
        "which must never work as bearer access tokens; set the audience the provider gives access tokens for this API " +
        '(e.g. a Keycloak "Audience" mapper value or an Auth0 API identifier), or leave AUTH_AUDIENCE empty to accept no provider bearer tokens',
    );
  }
  const algorithms = read(env, V.AUTH_SIGNATURE_ALGORITHM);
  const scopes = read(env, V.AUTH_SCOPES);
  return {
    kind: "oidc",
    id: "default",
    name: "Single sign-on",
    baseUrl,
    expectedIssuer: read(env, V.AUTH_EXPECTED_ISS) ?? baseUrl,
    audiences,
    algorithms,
    clientId,
    clientSecret: read(env, V.AUTH_CLIENT_SECRET) ?? "",
    scopes,
    requiredAcr: read(env, V.AUTH_REQUIRED_ACR),
    redirectUris: allowedRedirectUris,
    allowedDomains: [],
    // As before providers were many: an unverified email signs in (invites still require a verified one).
    requireVerifiedEmail: false,
    roles: undefined,
    checkHostedDomain: false,
  };
}

/** The provider's admin API, when AUTH_API_BASEURL is set; AUTH_API_CLIENT_ID is then required. */
export function adminApiConfig(env: Env): AdminApiConfig | undefined {
  const baseUrl = read(env, V.AUTH_API_BASEURL);
  if (baseUrl === undefined) return undefined;
  const provider = read(env, V.AUTH_API_PROVIDER);
  const clientId = read(env, V.AUTH_API_CLIENT_ID);
  if (clientId === undefined) throw new ConfigError("AUTH_API_CLIENT_ID", "required when AUTH_API_BASEURL is set");
  return { provider, baseUrl, clientId, clientSecret: read(env, V.AUTH_API_CLIENT_SECRET) ?? "" };
}
