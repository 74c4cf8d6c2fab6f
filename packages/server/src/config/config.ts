/**
 * The one place that reads the environment. `loadConfig()` turns it into a typed,
 * frozen `Config`; a bad value throws `ConfigError` naming the variable, which
 * `main.ts` prints as one line before exiting with code 2.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../lib/paths.js";

export type AuthModeName = "none" | "admin" | "full";
export type AdminApiProvider = "auth0" | "keycloak";

/** Where the data lives: a PostgreSQL server, or embedded PGlite under a directory. */
export type DatabaseConfig =
  /** `source`: which settings gave the URL, for error messages (unset when built in code). */
  | { kind: "postgres"; url: string; source?: "DATABASE_URL" | "DB_*" }
  | { kind: "pglite"; dataDir: string };

export interface OidcConfig {
  /** The provider's base URL (discovery at `<baseUrl>/.well-known/openid-configuration`). */
  baseUrl: string;
  /** Required `iss` of provider tokens. */
  expectedIssuer: string;
  /** Accepted audiences; a token's `aud` must contain one. Empty: no provider bearer tokens (login only). Never contains `clientId`. */
  audiences: string[];
  /** Allowed JWS algorithms for provider tokens. */
  algorithms: string[];
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** When set, provider tokens must carry this `acr`. */
  requiredAcr: string | undefined;
}

export interface AdminApiConfig {
  provider: AdminApiProvider;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface Config {
  version: string;
  host: string;
  port: number;
  /** Public base URL of this server; the `iss` of Tessera's own tokens. */
  publicUrl: string;
  logsJson: boolean;
  logLevel: string;
  shutdownTimeoutMs: number;
  database: DatabaseConfig;
  dbAutoMigrate: boolean;
  authMode: AuthModeName;
  admin: { email: string; password: string } | undefined;
  passwordLoginEnabled: boolean;
  signupEnabled: boolean;
  /** Audience of Tessera access tokens. */
  tokenAudience: string;
  accessTokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  /** A rotated refresh token may be presented again within this window (two tabs). */
  refreshReuseGraceSeconds: number;
  sessionIdleTimeoutSeconds: number;
  sessionMaxLifetimeSeconds: number;
  oidc: OidcConfig | undefined;
  allowedRedirectUris: string[];
  adminApi: AdminApiConfig | undefined;
  corsAllowedOrigins: string[];
  redisUrl: string | undefined;
  /** Prefix of every Redis key (several deployments may share one Redis). */
  redisKeyPrefix: string;
  trustProxyHops: number;
  /** Largest accepted request body. */
  readMaxBytes: number;
  /** Upper bound on any RPC's deadline. */
  maxTimeoutMs: number;
  /** A new connection must complete its first request's headers within this (every protocol). */
  headersTimeoutMs: number;
  /** Every request (headers and body, client to server) must arrive within this, on every protocol. */
  requestTimeoutMs: number;
  /** Open connections at most; more are refused. */
  maxConnections: number;
  /** Open connections per client address (IPv6: per /64) at most; 0: no per-address cap. */
  maxConnectionsPerIp: number;
}

/** A configuration error: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === "" ? undefined : t;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return def;
  const l = v.toLowerCase();
  if (["true", "1", "yes", "on"].includes(l)) return true;
  if (["false", "0", "no", "off"].includes(l)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v)) throw new ConfigError(name, `expected a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function list(env: Env, name: string): string[] {
  const v = str(env, name);
  if (v === undefined) return [];
  return v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function url(env: Env, name: string): string | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `not a valid URL: "${v}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError(name, `must be an http(s) URL, got "${v}"`);
  }
  return v.replace(/\/+$/, "");
}

function packageVersion(): string {
  try {
    const p = path.join(PROJECT_ROOT, "package.json");
    return (JSON.parse(readFileSync(p, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

function databaseConfig(env: Env): DatabaseConfig {
  const databaseUrl = str(env, "DATABASE_URL");
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw new ConfigError("DATABASE_URL", "must start with postgres:// or postgresql://");
    }
    return { kind: "postgres", url: databaseUrl, source: "DATABASE_URL" };
  }
  const host = str(env, "DB_HOST");
  if (host !== undefined) {
    const port = int(env, "DB_PORT", 5432, 1, 65535);
    const name = str(env, "DB_NAME") ?? "tessera";
    const user = str(env, "DB_USER") ?? "postgres";
    const pass = env.DB_PASS ?? "";
    const sslDisable = bool(env, "DB_SSL_DISABLE", false);
    const auth = pass === "" ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(pass)}`;
    // TLS with a certificate Node trusts for this host: what pg does for "require" too, but named, without its warning.
    const ssl = sslDisable ? "?sslmode=disable" : "?sslmode=verify-full";
    return { kind: "postgres", url: `postgres://${auth}@${host}:${port}/${encodeURIComponent(name)}${ssl}`, source: "DB_*" };
  }
  return { kind: "pglite", dataDir: str(env, "TESSERA_DATA_DIR") ?? "./.tessera/data" };
}

function authMode(env: Env): AuthModeName {
  const mode = str(env, "AUTH_MODE");
  if (mode === undefined) {
    return bool(env, "AUTH_ENABLED", false) ? "full" : "none";
  }
  const l = mode.toLowerCase();
  if (l === "none" || l === "admin" || l === "full") return l;
  throw new ConfigError("AUTH_MODE", `must be one of none, admin, full; got "${mode}"`);
}

function oidcConfig(env: Env): OidcConfig | undefined {
  const baseUrl = url(env, "AUTH_BASEURL");
  if (baseUrl === undefined) return undefined;
  const audiences = list(env, "AUTH_AUDIENCE");
  const clientId = str(env, "AUTH_CLIENT_ID") ?? "";
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
  const algorithms = list(env, "AUTH_SIGNATURE_ALGORITHM");
  const allowed = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
  for (const a of algorithms) {
    if (!allowed.includes(a)) {
      throw new ConfigError("AUTH_SIGNATURE_ALGORITHM", `unsupported algorithm "${a}" (allowed: ${allowed.join(", ")})`);
    }
  }
  const scopes = list(env, "AUTH_SCOPES");
  return {
    baseUrl,
    expectedIssuer: str(env, "AUTH_EXPECTED_ISS") ?? baseUrl,
    audiences,
    algorithms: algorithms.length > 0 ? algorithms : ["RS256"],
    clientId,
    clientSecret: env.AUTH_CLIENT_SECRET ?? "",
    scopes: scopes.length > 0 ? scopes : ["openid", "profile", "email"],
    requiredAcr: str(env, "AUTH_REQUIRED_ACR"),
  };
}

function adminApiConfig(env: Env): AdminApiConfig | undefined {
  const baseUrl = url(env, "AUTH_API_BASEURL");
  if (baseUrl === undefined) return undefined;
  const provider = (str(env, "AUTH_API_PROVIDER") ?? "auth0").toLowerCase();
  if (provider !== "auth0" && provider !== "keycloak") {
    throw new ConfigError("AUTH_API_PROVIDER", `must be auth0 or keycloak, got "${provider}"`);
  }
  const clientId = str(env, "AUTH_API_CLIENT_ID");
  if (clientId === undefined) throw new ConfigError("AUTH_API_CLIENT_ID", "required when AUTH_API_BASEURL is set");
  return { provider, baseUrl, clientId, clientSecret: env.AUTH_API_CLIENT_SECRET ?? "" };
}

/**
 * Connection and request limits of the one port. Behind a proxy (TRUST_PROXY_HOPS > 0) every connection has the
 * proxy's address, so the per-address cap is off there unless set (the proxy limits its own clients).
 */
function connectionLimits(env: Env, trustProxyHops: number): Pick<Config, "headersTimeoutMs" | "requestTimeoutMs" | "maxConnections" | "maxConnectionsPerIp"> {
  const headersTimeoutMs = int(env, "HEADERS_TIMEOUT_MS", 10_000, 500, 600_000);
  const requestTimeoutMs = int(env, "REQUEST_TIMEOUT_MS", 60_000, 500, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError("REQUEST_TIMEOUT_MS", `must be at least HEADERS_TIMEOUT_MS (${headersTimeoutMs}), got ${requestTimeoutMs}`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    maxConnections: int(env, "MAX_CONNECTIONS", 4096, 1, 1_000_000),
    maxConnectionsPerIp: int(env, "MAX_CONNECTIONS_PER_IP", trustProxyHops > 0 ? 0 : 256, 0, 1_000_000),
  };
}

/** Reads the environment once into a frozen Config. Throws ConfigError on a bad value. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const host = str(env, "HOST") ?? "127.0.0.1";
  const port = int(env, "PORT", 8080, 0, 65535);
  const mode = authMode(env);
  let admin: Config["admin"];
  const adminEmail = str(env, "AUTH_ADMIN_EMAIL");
  const adminPassword = env.AUTH_ADMIN_PASSWORD;
  if (mode === "admin") {
    if (adminEmail === undefined) throw new ConfigError("AUTH_ADMIN_EMAIL", "required when AUTH_MODE=admin");
    if (adminPassword === undefined || adminPassword === "") {
      throw new ConfigError("AUTH_ADMIN_PASSWORD", "required when AUTH_MODE=admin");
    }
    if (adminPassword.length < 12) throw new ConfigError("AUTH_ADMIN_PASSWORD", "must be at least 12 characters");
    admin = { email: adminEmail, password: adminPassword };
  }
  const publicUrl = url(env, "TESSERA_PUBLIC_URL") ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const passwordDisabled = bool(env, "AUTH_DISABLE_PASSWORD", false);
  const signupDisabled = bool(env, "AUTH_DISABLE_SIGNUP", false);
  const trustProxyHops = int(env, "TRUST_PROXY_HOPS", 0, 0, 10);
  const config: Config = {
    version: packageVersion(),
    host,
    port,
    publicUrl,
    logsJson: bool(env, "LOGS_FORMAT_JSON", true),
    logLevel: str(env, "LOG_LEVEL") ?? "info",
    shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_SECONDS", 10, 0, 3600) * 1000,
    database: databaseConfig(env),
    dbAutoMigrate: bool(env, "DB_AUTO_MIGRATE", true),
    authMode: mode,
    admin,
    passwordLoginEnabled: mode === "admin" || (mode === "full" && !passwordDisabled),
    signupEnabled: mode === "full" && !passwordDisabled && !signupDisabled,
    tokenAudience: str(env, "AUTH_JWT_AUDIENCE") ?? publicUrl,
    accessTokenLifetimeSeconds: int(env, "AUTH_JWT_ACCESS_TOKEN_LIFETIME", 900, 30, 86400),
    refreshTokenLifetimeSeconds: int(env, "AUTH_JWT_REFRESH_TOKEN_LIFETIME", 2592000, 60, 31536000),
    refreshReuseGraceSeconds: 10,
    sessionIdleTimeoutSeconds: int(env, "AUTH_SESSION_IDLE_TIMEOUT", 30 * 86400, 60, 365 * 86400),
    sessionMaxLifetimeSeconds: int(env, "AUTH_SESSION_MAX_LIFETIME", 90 * 86400, 60, 3 * 365 * 86400),
    oidc: mode === "full" ? oidcConfig(env) : undefined,
    allowedRedirectUris: list(env, "AUTH_ALLOWED_REDIRECT_URIS"),
    adminApi: adminApiConfig(env),
    corsAllowedOrigins: list(env, "CORS_ALLOWED_ORIGINS"),
    redisUrl: str(env, "REDIS_URL"),
    redisKeyPrefix: str(env, "REDIS_KEY_PREFIX") ?? "tessera:",
    trustProxyHops,
    readMaxBytes: int(env, "READ_MAX_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxTimeoutMs: int(env, "MAX_TIMEOUT_MS", 30000, 100, 600000),
    ...connectionLimits(env, trustProxyHops),
  };
  return Object.freeze(config);
}
