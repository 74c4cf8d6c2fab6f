/**
 * Declarations of the authentication variables: the sign-in mode, tokens and sessions,
 * the OpenID Connect provider and its admin API. Descriptions keep the wording of the
 * README's configuration table.
 */
import { bool, httpUrl, int, list, oneOf, text, verbatim } from "./parse.js";
import { variable } from "./variable.js";

/** JWS algorithms a provider token may be signed with. */
const PROVIDER_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;

const DAY = 86_400;

/** The authentication variables, by name. */
export const AUTH_VARIABLES = {
  AUTH_MODE: variable({
    name: "AUTH_MODE",
    section: "auth",
    parser: oneOf(["none", "admin", "full"]),
    default: undefined,
    defaultText: "`none`",
    description:
      "`none` (local development: every caller is the admin of the default account; only requests addressed to this machine are answered; `tessera serve` logs a warning when it listens on an address other machines can reach), `admin` or `full`",
  }),
  AUTH_ENABLED: variable({
    name: "AUTH_ENABLED",
    section: "auth",
    parser: bool(),
    default: false,
    shorthandFor: "AUTH_MODE",
    description: "`true` means `AUTH_MODE=full` when `AUTH_MODE` is unset",
  }),
  AUTH_ADMIN_EMAIL: variable({
    name: "AUTH_ADMIN_EMAIL",
    section: "auth",
    parser: text(),
    default: undefined,
    defaultText: "required in admin mode",
    description: "email of the admin of `AUTH_MODE=admin`",
  }),
  AUTH_ADMIN_PASSWORD: variable({
    name: "AUTH_ADMIN_PASSWORD",
    section: "auth",
    parser: verbatim(),
    default: undefined,
    defaultText: "required in admin mode",
    secret: true,
    description: "password of the admin of `AUTH_MODE=admin` (at least 12 characters)",
  }),
  AUTH_DISABLE_PASSWORD: variable({
    name: "AUTH_DISABLE_PASSWORD",
    section: "auth",
    parser: bool(),
    default: false,
    description: "turn off email/password login in full mode",
  }),
  AUTH_DISABLE_SIGNUP: variable({ name: "AUTH_DISABLE_SIGNUP", section: "auth", parser: bool(), default: false, description: "turn off sign-up in full mode" }),

  API_KEY_EXTRA_SCOPES: variable({
    name: "API_KEY_EXTRA_SCOPES",
    section: "api-keys",
    parser: list(),
    default: [],
    defaultText: "none",
    description:
      "scopes of services that embed Tessera which API keys may be created with (Tessera knows only its own services' scopes), e.g. `jobs:read jobs:write@admin`; `@role`: the least account role a key's creator needs to grant it ([api-keys.md](api-keys.md))",
  }),

  AUTH_JWT_ACCESS_TOKEN_LIFETIME: variable({
    name: "AUTH_JWT_ACCESS_TOKEN_LIFETIME",
    section: "tokens",
    parser: int(30, DAY),
    default: 900,
    description: "lifetime of Tessera access tokens, seconds",
  }),
  AUTH_JWT_REFRESH_TOKEN_LIFETIME: variable({
    name: "AUTH_JWT_REFRESH_TOKEN_LIFETIME",
    section: "tokens",
    parser: int(60, 365 * DAY),
    default: 30 * DAY,
    description: "lifetime of refresh tokens, seconds",
  }),
  AUTH_JWT_AUDIENCE: variable({
    name: "AUTH_JWT_AUDIENCE",
    section: "tokens",
    parser: text(),
    default: undefined,
    defaultText: "`TESSERA_PUBLIC_URL`",
    description: "`aud` of Tessera access tokens",
  }),
  AUTH_SESSION_IDLE_TIMEOUT: variable({
    name: "AUTH_SESSION_IDLE_TIMEOUT",
    section: "tokens",
    parser: int(60, 365 * DAY),
    default: 30 * DAY,
    description: "a session ends after this long without a refresh, seconds",
  }),
  AUTH_SESSION_MAX_LIFETIME: variable({
    name: "AUTH_SESSION_MAX_LIFETIME",
    section: "tokens",
    parser: int(60, 3 * 365 * DAY),
    default: 90 * DAY,
    description: "a session ends this long after login, seconds",
  }),

  AUTH_BASEURL: variable({
    name: "AUTH_BASEURL",
    section: "oidc",
    parser: httpUrl(),
    default: undefined,
    description: "OpenID Connect provider base URL (enables provider tokens in full mode)",
  }),
  AUTH_EXPECTED_ISS: variable({
    name: "AUTH_EXPECTED_ISS",
    section: "oidc",
    parser: text(),
    default: undefined,
    defaultText: "`AUTH_BASEURL`",
    description: "required `iss` of provider tokens",
  }),
  AUTH_AUDIENCE: variable({
    name: "AUTH_AUDIENCE",
    section: "oidc",
    parser: list(),
    default: [],
    defaultText: "required with `AUTH_BASEURL` unless `AUTH_CLIENT_ID` is set (then empty: no provider bearer tokens)",
    description: "accepted audiences of provider access tokens (comma- or space-separated); never `AUTH_CLIENT_ID`",
  }),
  AUTH_SIGNATURE_ALGORITHM: variable({
    name: "AUTH_SIGNATURE_ALGORITHM",
    section: "oidc",
    parser: list({ values: PROVIDER_ALGORITHMS, noun: "algorithm" }),
    default: ["RS256"],
    description: "allowed algorithms of provider tokens",
  }),
  AUTH_CLIENT_ID: variable({
    name: "AUTH_CLIENT_ID",
    section: "oidc",
    parser: text(),
    default: undefined,
    description: "OAuth client for the authorization-code login",
  }),
  AUTH_CLIENT_SECRET: variable({
    name: "AUTH_CLIENT_SECRET",
    section: "oidc",
    parser: verbatim(),
    default: undefined,
    secret: true,
    description: "secret of the `AUTH_CLIENT_ID` client (kept on the server)",
  }),
  AUTH_SCOPES: variable({
    name: "AUTH_SCOPES",
    section: "oidc",
    parser: list(),
    default: ["openid", "profile", "email"],
    description: "scopes requested from the provider",
  }),
  AUTH_REQUIRED_ACR: variable({
    name: "AUTH_REQUIRED_ACR",
    section: "oidc",
    parser: text(),
    default: undefined,
    description: "provider tokens must carry this `acr`",
  }),
  AUTH_ALLOWED_REDIRECT_URIS: variable({
    name: "AUTH_ALLOWED_REDIRECT_URIS",
    section: "oidc",
    parser: list(),
    default: [],
    defaultText: "unset",
    description: "redirect URIs allowed for provider login (loopback URIs may vary their port)",
  }),

  AUTH_API_PROVIDER: variable({
    name: "AUTH_API_PROVIDER",
    section: "admin-api",
    parser: oneOf(["auth0", "keycloak"]),
    default: "auth0",
    description: "provider admin API for member details: `auth0` or `keycloak`",
  }),
  AUTH_API_BASEURL: variable({
    name: "AUTH_API_BASEURL",
    section: "admin-api",
    parser: httpUrl(),
    default: undefined,
    description: "provider admin API endpoint",
  }),
  AUTH_API_CLIENT_ID: variable({
    name: "AUTH_API_CLIENT_ID",
    section: "admin-api",
    parser: text(),
    default: undefined,
    defaultText: "unset; required with `AUTH_API_BASEURL`",
    description: "client-credentials client of the provider admin API",
  }),
  AUTH_API_CLIENT_SECRET: variable({
    name: "AUTH_API_CLIENT_SECRET",
    section: "admin-api",
    parser: verbatim(),
    default: undefined,
    secret: true,
    description: "secret of the `AUTH_API_CLIENT_ID` client",
  }),
} as const;
