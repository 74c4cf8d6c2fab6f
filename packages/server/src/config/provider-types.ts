/**
 * What Tessera knows of each identity provider after configuration: the settings every
 * provider has, and those of each kind (`oidc`, `github`).
 */

/** A provider id: lower-case letters, digits and dashes. */
export const PROVIDER_ID_RE = /^[a-z0-9-]{1,64}$/;

/** Roles taken from a provider claim (OpenID Connect only). */
interface RolesClaim {
  /** The claim path: a top-level claim (`https://example.com/roles`, looked up whole) or a dotted path (`realm_access.roles`). */
  claim: string;
  /** The value (in the claim's string or list) that makes the user an instance admin. */
  adminValue: string;
}

/** Settings every provider has. */
interface ProviderBase {
  /** Stable id (`[a-z0-9-]+`): `default` for AUTH_BASEURL, `google`, `github`, or the operator's. */
  id: string;
  /** Shown on sign-in buttons. */
  name: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** Redirect URIs allowed for this provider's login (AUTH_ALLOWED_REDIRECT_URIS plus its own). */
  redirectUris: string[];
  /** When non-empty, only verified emails of these domains (lower-case) sign in. */
  allowedDomains: string[];
  /** Refuse sign-in unless the provider vouches for the email (`email_verified: true`, GitHub's `verified`). */
  requireVerifiedEmail: boolean;
  /** Instance-admin role from a claim, when set. */
  roles: RolesClaim | undefined;
}

/** An OpenID Connect provider (Keycloak, Auth0, Okta, Google, Microsoft Entra, ...). */
export interface OidcConfig extends ProviderBase {
  kind: "oidc";
  /** The provider's base URL (discovery at `<baseUrl>/.well-known/openid-configuration`). */
  baseUrl: string;
  /** Required `iss` of provider tokens. */
  expectedIssuer: string;
  /** Accepted audiences; a token's `aud` must contain one. Empty: no provider bearer tokens (login only). Never contains `clientId`. */
  audiences: string[];
  /** Allowed JWS algorithms for provider tokens. */
  algorithms: string[];
  /** When set, provider tokens must carry this `acr`. */
  requiredAcr: string | undefined;
  /** Google Workspace: with allowed domains, the ID token's `hd` must be one of them. */
  checkHostedDomain: boolean;
}

/** GitHub (or GitHub Enterprise Server): OAuth 2 without OpenID Connect. */
export interface GithubConfig extends ProviderBase {
  kind: "github";
  /** Web URL: `<webUrl>/login/oauth/authorize` and `/login/oauth/access_token`; also the identities' issuer. */
  webUrl: string;
  /** REST API URL: `<apiUrl>/user`, `<apiUrl>/user/emails`. */
  apiUrl: string;
}

/** Any provider. */
export type ProviderConfig = OidcConfig | GithubConfig;
