/**
 * The general form of identity providers: a JSON array in AUTH_PROVIDERS, or in the file
 * AUTH_PROVIDERS_FILE names. Every key is checked (an unknown key is an error, so a typo
 * never silently turns a rule off); secrets may be given by reference
 * (`client_secret_env`: the name of a variable holding it; `client_secret_file`: a file
 * such as a mounted Kubernetes or Docker secret), so they need not sit in the JSON.
 */
import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "./config-error.js";
import { PROVIDER_ID_RE, type ProviderConfig } from "./provider-types.js";
import { readNamed, type Env } from "./read.js";
import { PROVIDER_ALGORITHMS } from "./schema-auth.js";

/** The largest providers file or secret file read. */
const MAX_FILE_BYTES = 1024 * 1024;

const COMMON_KEYS = [
  "id",
  "kind",
  "name",
  "client_id",
  "client_secret",
  "client_secret_env",
  "client_secret_file",
  "scopes",
  "redirect_uris",
  "allowed_domains",
  "require_verified_email",
];
const OIDC_KEYS = ["issuer", "discovery_url", "audiences", "algorithms", "required_acr", "check_hosted_domain", "roles_claim", "admin_role"];
const GITHUB_KEYS = ["web_url", "api_url"];

/** Reads one provider object; `fail(problem)` throws the ConfigError naming the variable and provider. */
class Reader {
  constructor(
    private readonly o: Record<string, unknown>,
    readonly fail: (problem: string) => never,
  ) {}
  str(key: string, required: true): string;
  str(key: string, required?: boolean): string | undefined;
  str(key: string, required = false): string | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) {
      if (required) this.fail(`"${key}" is required`);
      return undefined;
    }
    if (typeof v !== "string" || v.trim() === "") this.fail(`"${key}" must be a non-empty string`);
    return v.trim();
  }
  list(key: string): string[] | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x.trim() !== "")) this.fail(`"${key}" must be a list of non-empty strings`);
    return (v as string[]).map((x) => x.trim());
  }
  bool(key: string): boolean | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") this.fail(`"${key}" must be true or false`);
    return v;
  }
  url(key: string, required: true): string;
  url(key: string, required?: boolean): string | undefined;
  url(key: string, required = false): string | undefined {
    const v = this.str(key, required);
    if (v === undefined) return undefined;
    let u: URL | undefined;
    try {
      u = new URL(v);
    } catch {
      // below
    }
    if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) this.fail(`"${key}" must be an http(s) URL`);
    return v.replace(/\/+$/, "");
  }
}

/** Reads a file of at most 1 MiB; a problem names `variable`. */
export function readSmallFile(file: string, variable: string, what: string): string {
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw new ConfigError(variable, `${what} ${file} is larger than 1 MiB`);
    return readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(variable, `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function secretOf(r: Reader, env: Env, variable: string): string {
  const given = ["client_secret", "client_secret_env", "client_secret_file"].filter((k) => r.str(k) !== undefined);
  if (given.length > 1) r.fail(`give only one of ${given.join(", ")}`);
  const envName = r.str("client_secret_env");
  if (envName !== undefined) {
    const v = readNamed(env, envName);
    if (v === undefined) r.fail(`client_secret_env names ${envName}, which is not set`);
    return v;
  }
  const file = r.str("client_secret_file");
  if (file !== undefined) return readSmallFile(file, variable, "client_secret_file").replace(/\r?\n$/, "");
  return r.str("client_secret") ?? "";
}

/** One provider of the JSON form. `globalRedirects` is AUTH_ALLOWED_REDIRECT_URIS. */
function providerOf(raw: unknown, index: number, variable: string, env: Env, globalRedirects: string[]): ProviderConfig {
  const label = (id: unknown) => (typeof id === "string" ? `provider "${id.slice(0, 64)}"` : `provider #${index + 1}`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(variable, `${label(undefined)} must be a JSON object`);
  const o = raw as Record<string, unknown>;
  const r: Reader = new Reader(o, (problem) => {
    throw new ConfigError(variable, `${label(o.id)}: ${problem}`);
  });
  const id = r.str("id", true);
  if (!PROVIDER_ID_RE.test(id)) r.fail('"id" must be 1 to 64 of a-z, 0-9 and "-"');
  const kind = r.str("kind", true);
  if (kind !== "oidc" && kind !== "github") r.fail('"kind" must be "oidc" or "github"');
  const allowed = new Set([...COMMON_KEYS, ...(kind === "oidc" ? OIDC_KEYS : GITHUB_KEYS)]);
  const unknown = Object.keys(o).find((k) => !allowed.has(k));
  if (unknown !== undefined) r.fail(`unknown key "${unknown.slice(0, 64)}" for kind ${kind}`);
  const clientId = r.str("client_id", true);
  const clientSecret = secretOf(r, env, variable);
  const allowedDomains = (r.list("allowed_domains") ?? []).map((d) => d.toLowerCase().replace(/^@/, ""));
  const bad = allowedDomains.find((d) => !/^[a-z0-9.-]+\.[a-z0-9-]+$/.test(d));
  if (bad !== undefined) r.fail(`allowed_domains: "${bad}" is not a domain`);
  const base = {
    id,
    clientId,
    clientSecret,
    redirectUris: [...globalRedirects, ...(r.list("redirect_uris") ?? [])],
    allowedDomains,
    requireVerifiedEmail: r.bool("require_verified_email") ?? true,
  };
  if (kind === "github") {
    if (clientSecret === "") r.fail("a client secret is required (client_secret_env or client_secret_file)");
    const webUrl = r.url("web_url") ?? "https://github.com";
    return {
      ...base,
      kind,
      name: r.str("name") ?? "GitHub",
      scopes: r.list("scopes") ?? ["read:user", "user:email"],
      roles: undefined,
      webUrl,
      apiUrl: r.url("api_url") ?? (webUrl === "https://github.com" ? "https://api.github.com" : `${webUrl}/api/v3`),
    };
  }
  const issuer = r.url("issuer", true);
  const audiences = r.list("audiences") ?? [];
  if (audiences.includes(clientId)) r.fail("audiences must not contain client_id: ID tokens for the login carry it and must never work as bearers");
  const algorithms = r.list("algorithms") ?? ["RS256"];
  const wrongAlg = algorithms.find((a) => !(PROVIDER_ALGORITHMS as readonly string[]).includes(a));
  if (wrongAlg !== undefined) r.fail(`unsupported algorithm "${wrongAlg}" (allowed: ${PROVIDER_ALGORITHMS.join(", ")})`);
  const rolesClaim = r.str("roles_claim");
  const adminRole = r.str("admin_role");
  if ((rolesClaim === undefined) !== (adminRole === undefined)) r.fail("roles_claim and admin_role go together");
  return {
    ...base,
    kind,
    name: r.str("name") ?? id,
    scopes: r.list("scopes") ?? ["openid", "profile", "email"],
    roles: rolesClaim !== undefined && adminRole !== undefined ? { claim: rolesClaim, adminValue: adminRole } : undefined,
    baseUrl: r.url("discovery_url") ?? issuer,
    expectedIssuer: issuer,
    audiences,
    algorithms,
    requiredAcr: r.str("required_acr"),
    checkHostedDomain: r.bool("check_hosted_domain") ?? issuer === "https://accounts.google.com",
  };
}

/** The providers of one JSON text (AUTH_PROVIDERS or the file's content); errors name `variable`. */
export function providersFromJson(text: string, variable: string, env: Env, globalRedirects: string[]): ProviderConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(variable, `not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ConfigError(variable, "must be a JSON array of provider objects");
  return parsed.map((p, i) => providerOf(p, i, variable, env, globalRedirects));
}
