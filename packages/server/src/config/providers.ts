/**
 * Every identity provider of the deployment, in the order sign-in pages list them:
 * `default` (AUTH_BASEURL, Neosync's variables), the general form (AUTH_PROVIDERS, then
 * AUTH_PROVIDERS_FILE), then the Everruns shorthands `google` (AUTH_GOOGLE_*) and
 * `github` (AUTH_GITHUB_*). Ids and issuers must be unique: tokens and identities are
 * routed by issuer, so two providers sharing one would share their users.
 */
import { ConfigError } from "./config-error.js";
import { oidcConfig } from "./provider-config.js";
import type { GithubConfig, OidcConfig, ProviderConfig } from "./provider-types.js";
import { providersFromJson, readSmallFile } from "./providers-json.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

function domains(list: string[]): string[] {
  return list.map((d) => d.toLowerCase().replace(/^@/, ""));
}

/** The provider `google`, when AUTH_GOOGLE_CLIENT_ID is set: login only, `hd` checked with allowed domains. */
function googleShorthand(env: Env, globalRedirects: string[]): OidcConfig | undefined {
  const clientId = read(env, V.AUTH_GOOGLE_CLIENT_ID);
  if (clientId === undefined) return undefined;
  const clientSecret = read(env, V.AUTH_GOOGLE_CLIENT_SECRET);
  if (clientSecret === undefined || clientSecret === "") throw new ConfigError("AUTH_GOOGLE_CLIENT_SECRET", "required when AUTH_GOOGLE_CLIENT_ID is set");
  const issuer = read(env, V.AUTH_GOOGLE_ISSUER);
  const redirect = read(env, V.AUTH_GOOGLE_REDIRECT_URI);
  return {
    kind: "oidc",
    id: "google",
    name: "Google",
    clientId,
    clientSecret,
    scopes: ["openid", "email", "profile"],
    redirectUris: [...globalRedirects, ...(redirect ? [redirect] : [])],
    allowedDomains: domains(read(env, V.AUTH_GOOGLE_ALLOWED_DOMAINS)),
    requireVerifiedEmail: true,
    roles: undefined,
    baseUrl: issuer,
    expectedIssuer: issuer,
    audiences: [],
    algorithms: ["RS256"],
    requiredAcr: undefined,
    checkHostedDomain: true,
  };
}

/** The provider `github`, when AUTH_GITHUB_CLIENT_ID is set. */
function githubShorthand(env: Env, globalRedirects: string[]): GithubConfig | undefined {
  const clientId = read(env, V.AUTH_GITHUB_CLIENT_ID);
  if (clientId === undefined) return undefined;
  const clientSecret = read(env, V.AUTH_GITHUB_CLIENT_SECRET);
  if (clientSecret === undefined || clientSecret === "") throw new ConfigError("AUTH_GITHUB_CLIENT_SECRET", "required when AUTH_GITHUB_CLIENT_ID is set");
  const webUrl = read(env, V.AUTH_GITHUB_URL);
  const redirect = read(env, V.AUTH_GITHUB_REDIRECT_URI);
  return {
    kind: "github",
    id: "github",
    name: "GitHub",
    clientId,
    clientSecret,
    scopes: ["read:user", "user:email"],
    redirectUris: [...globalRedirects, ...(redirect ? [redirect] : [])],
    allowedDomains: domains(read(env, V.AUTH_GITHUB_ALLOWED_DOMAINS)),
    requireVerifiedEmail: true,
    roles: undefined,
    webUrl,
    apiUrl: read(env, V.AUTH_GITHUB_API_URL) ?? (webUrl === "https://github.com" ? "https://api.github.com" : `${webUrl}/api/v3`),
  };
}

/** Where a provider was configured, for errors. */
function sourceOf(p: ProviderConfig, fromJson: Map<ProviderConfig, string>): string {
  return fromJson.get(p) ?? (p.id === "default" ? "AUTH_BASEURL" : p.id === "google" ? "AUTH_GOOGLE_CLIENT_ID" : "AUTH_GITHUB_CLIENT_ID");
}

/** The issuer identities of this provider are stored under. */
export function providerIssuer(p: ProviderConfig): string {
  return p.kind === "oidc" ? p.expectedIssuer : p.webUrl;
}

/** Every provider (full mode only; elsewhere their variables are not even read). */
export function providersConfig(env: Env, globalRedirects: string[]): ProviderConfig[] {
  const fromJson = new Map<ProviderConfig, string>();
  const json: ProviderConfig[] = [];
  const inline = read(env, V.AUTH_PROVIDERS);
  if (inline !== undefined && inline.trim() !== "") {
    for (const p of providersFromJson(inline, "AUTH_PROVIDERS", env, globalRedirects)) fromJson.set(p, "AUTH_PROVIDERS") && json.push(p);
  }
  const file = read(env, V.AUTH_PROVIDERS_FILE);
  if (file !== undefined) {
    const text = readSmallFile(file, "AUTH_PROVIDERS_FILE", "providers file");
    for (const p of providersFromJson(text, "AUTH_PROVIDERS_FILE", env, globalRedirects)) fromJson.set(p, "AUTH_PROVIDERS_FILE") && json.push(p);
  }
  const all = [oidcConfig(env, globalRedirects), ...json, googleShorthand(env, globalRedirects), githubShorthand(env, globalRedirects)].filter(
    (p): p is ProviderConfig => p !== undefined,
  );
  const ids = new Map<string, ProviderConfig>();
  const issuers = new Map<string, ProviderConfig>();
  for (const p of all) {
    const clash = ids.get(p.id);
    if (clash) throw new ConfigError(sourceOf(p, fromJson), `provider id "${p.id}" is also configured by ${sourceOf(clash, fromJson)}`);
    ids.set(p.id, p);
    const issuer = providerIssuer(p);
    const same = issuers.get(issuer);
    if (same)
      throw new ConfigError(sourceOf(p, fromJson), `provider "${p.id}" has the issuer ${issuer} of provider "${same.id}"; each issuer may be configured once`);
    issuers.set(issuer, p);
  }
  return all;
}
