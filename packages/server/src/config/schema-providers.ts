/**
 * Declarations of the identity-provider variables: the general form for any number of
 * providers (`AUTH_PROVIDERS`, `AUTH_PROVIDERS_FILE`) and the Google and GitHub
 * shorthands Everruns uses. The single OpenID provider of `AUTH_BASEURL` (provider
 * `default`) is declared in `schema-auth.ts`.
 */
import { httpUrl, list, text, verbatim } from "./parse.js";
import { variable } from "./variable.js";

/** The identity-provider variables, by name. */
export const PROVIDER_VARIABLES = {
  AUTH_PROVIDERS: variable({
    name: "AUTH_PROVIDERS",
    section: "providers",
    parser: verbatim(),
    default: undefined,
    // It may hold a client_secret inline: never logged or shown.
    secret: true,
    description:
      "identity providers as a JSON array (one object per provider: `id`, `kind`, `client_id`, `client_secret_env` or `client_secret_file`, ...; [providers.md](providers.md)); full mode only",
  }),
  AUTH_PROVIDERS_FILE: variable({
    name: "AUTH_PROVIDERS_FILE",
    section: "providers",
    parser: text(),
    default: undefined,
    description: "path of a JSON file holding the same array as `AUTH_PROVIDERS` (a mounted ConfigMap); both may be set, ids must differ",
  }),
  AUTH_GOOGLE_CLIENT_ID: variable({
    name: "AUTH_GOOGLE_CLIENT_ID",
    section: "providers",
    parser: text(),
    default: undefined,
    description: "OAuth client of Google sign-in: enables the provider `google` (login only: Google tokens are never bearers)",
  }),
  AUTH_GOOGLE_CLIENT_SECRET: variable({
    name: "AUTH_GOOGLE_CLIENT_SECRET",
    section: "providers",
    parser: verbatim(),
    default: undefined,
    defaultText: "unset; required with `AUTH_GOOGLE_CLIENT_ID`",
    secret: true,
    description: "secret of the `AUTH_GOOGLE_CLIENT_ID` client",
  }),
  AUTH_GOOGLE_REDIRECT_URI: variable({
    name: "AUTH_GOOGLE_REDIRECT_URI",
    section: "providers",
    parser: httpUrl(),
    default: undefined,
    description: "a redirect URI allowed for Google sign-in, besides `AUTH_ALLOWED_REDIRECT_URIS`",
  }),
  AUTH_GOOGLE_ALLOWED_DOMAINS: variable({
    name: "AUTH_GOOGLE_ALLOWED_DOMAINS",
    section: "providers",
    parser: list(),
    default: [],
    defaultText: "unset: any domain",
    description: "only verified emails of these domains sign in with Google, and the ID token's `hd` (Workspace domain) must be one of them",
  }),
  AUTH_GOOGLE_ISSUER: variable({
    name: "AUTH_GOOGLE_ISSUER",
    section: "providers",
    parser: httpUrl(),
    default: "https://accounts.google.com",
    description: "issuer (and discovery base URL) of the `google` provider: for tests and proxies only",
  }),
  AUTH_GITHUB_CLIENT_ID: variable({
    name: "AUTH_GITHUB_CLIENT_ID",
    section: "providers",
    parser: text(),
    default: undefined,
    description: "OAuth app client id: enables the provider `github` (sign-in with a verified primary email)",
  }),
  AUTH_GITHUB_CLIENT_SECRET: variable({
    name: "AUTH_GITHUB_CLIENT_SECRET",
    section: "providers",
    parser: verbatim(),
    default: undefined,
    defaultText: "unset; required with `AUTH_GITHUB_CLIENT_ID`",
    secret: true,
    description: "secret of the `AUTH_GITHUB_CLIENT_ID` OAuth app",
  }),
  AUTH_GITHUB_REDIRECT_URI: variable({
    name: "AUTH_GITHUB_REDIRECT_URI",
    section: "providers",
    parser: httpUrl(),
    default: undefined,
    description: "a redirect URI allowed for GitHub sign-in, besides `AUTH_ALLOWED_REDIRECT_URIS`",
  }),
  AUTH_GITHUB_ALLOWED_DOMAINS: variable({
    name: "AUTH_GITHUB_ALLOWED_DOMAINS",
    section: "providers",
    parser: list(),
    default: [],
    defaultText: "unset: any domain",
    description: "only a verified primary email of these domains signs in with GitHub",
  }),
  AUTH_GITHUB_URL: variable({
    name: "AUTH_GITHUB_URL",
    section: "providers",
    parser: httpUrl(),
    default: "https://github.com",
    description: "GitHub's web URL (authorize and token endpoints): GitHub Enterprise Server, or tests",
  }),
  AUTH_GITHUB_API_URL: variable({
    name: "AUTH_GITHUB_API_URL",
    section: "providers",
    parser: httpUrl(),
    default: undefined,
    defaultText: "`https://api.github.com` (`<AUTH_GITHUB_URL>/api/v3` when `AUTH_GITHUB_URL` is set)",
    description: "GitHub's REST API URL (`/user`, `/user/emails`)",
  }),
} as const;
