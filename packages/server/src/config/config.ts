/**
 * The one place that reads the environment. `loadConfig()` turns it into a typed,
 * frozen `Config`: every variable is declared in the schema (`schema.ts`) and read
 * through it; the rules between variables are here and in `database-config.ts`,
 * `provider-config.ts` and `providers.ts`. A bad value throws `ConfigError` naming the variable, which
 * `tessera serve` prints as one line before exiting with code 2.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../lib/paths.js";
import { apiKeyExtraScopes, type ExtraScope } from "./api-key-config.js";
import { ConfigError } from "./config-error.js";
import { databaseConfig, type DatabaseConfig } from "./database-config.js";
import { read, type Env } from "./read.js";
import { mailConfig, type MailConfig } from "./mail-config.js";
import { mfaConfig, type MfaConfig } from "./mfa-config.js";
import { adminApiConfig, type AdminApiConfig } from "./provider-config.js";
import type { OidcConfig, ProviderConfig } from "./provider-types.js";
import { providersConfig } from "./providers.js";
import { VARIABLES as V } from "./schema.js";
import { tlsConfig, type TlsConfig } from "./tls-config.js";
import type { TracingConfig } from "../tracing/tracing.js";

export { ConfigError } from "./config-error.js";
export type { ExtraScope } from "./api-key-config.js";
export type { DatabaseConfig } from "./database-config.js";
export { readPem, type TlsConfig } from "./tls-config.js";
export type { AdminApiConfig } from "./provider-config.js";
export type { GithubConfig, OidcConfig, ProviderConfig } from "./provider-types.js";
export type { MailConfig } from "./mail-config.js";

/** Who may sign in: nobody needs to (none), only the configured admin (admin), or everybody (full). */
export type AuthModeName = "none" | "admin" | "full";

/** The server's configuration, read once at startup. */
export interface Config {
  version: string;
  host: string;
  port: number;
  /** Public base URL of this server; the `iss` of Tessera's own tokens. */
  publicUrl: string;
  logsJson: boolean;
  logLevel: string;
  /** The level SIGUSR2 switches a running server to, and back from (LOG_LEVEL_SIGUSR2). */
  logLevelSigusr2: string;
  /** Share of successful RPCs whose per-RPC line is written (LOG_RPC_SAMPLE); failed ones always are. */
  logRpcSample: number;
  shutdownTimeoutMs: number;
  database: DatabaseConfig;
  dbAutoMigrate: boolean;
  /** How often the revocation broadcast proves itself (a notification to this instance). */
  revocationProbeIntervalMs: number;
  authMode: AuthModeName;
  admin: { email: string; password: string } | undefined;
  passwordLoginEnabled: boolean;
  signupEnabled: boolean;
  /** Audience of Tessera access tokens. */
  tokenAudience: string;
  accessTokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  /** Scopes of embedding services that keys may be created with (API_KEY_EXTRA_SCOPES). */
  apiKeyExtraScopes: readonly ExtraScope[];
  /** A rotated refresh token may be presented again within this window (two tabs). */
  refreshReuseGraceSeconds: number;
  sessionIdleTimeoutSeconds: number;
  sessionMaxLifetimeSeconds: number;
  /** The OpenID provider `default` (AUTH_BASEURL), also in `providers`: the one the admin API and UserInfo belong to. */
  oidc: OidcConfig | undefined;
  /** Every identity provider (full mode), in sign-in order. */
  providers: readonly ProviderConfig[];
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
  /** TLS on the one port; undefined: plaintext (HTTP/1.1 and h2c). */
  tls: TlsConfig | undefined;
  /** OpenTelemetry traces (OTEL_*). */
  tracing: TracingConfig;
  /** Where Prometheus metrics are served; undefined: off (nothing is collected). */
  metrics: { host: string; port: number } | undefined;
  /** Outgoing mail (verification, password reset). */
  mail: MailConfig;
  /** Password users must verify their email before they sign in. */
  requireVerifiedEmail: boolean;
  /** The second factor: its encryption key and policies (docs/mfa.md). */
  mfa: MfaConfig;
}

function packageVersion(): string {
  try {
    const p = path.join(PROJECT_ROOT, "package.json");
    return (JSON.parse(readFileSync(p, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** AUTH_MODE, or its shorthand AUTH_ENABLED=true (full) when AUTH_MODE is unset. */
function authMode(env: Env): AuthModeName {
  return read(env, V.AUTH_MODE) ?? (read(env, V.AUTH_ENABLED) ? "full" : "none");
}

/** The admin of admin mode: AUTH_ADMIN_EMAIL and AUTH_ADMIN_PASSWORD (12 characters or more) are required there. */
function adminUser(env: Env, mode: AuthModeName): Config["admin"] {
  const email = read(env, V.AUTH_ADMIN_EMAIL);
  const password = read(env, V.AUTH_ADMIN_PASSWORD);
  if (mode !== "admin") return undefined;
  if (email === undefined) throw new ConfigError("AUTH_ADMIN_EMAIL", "required when AUTH_MODE=admin");
  if (password === undefined || password === "") throw new ConfigError("AUTH_ADMIN_PASSWORD", "required when AUTH_MODE=admin");
  if (password.length < 12) throw new ConfigError("AUTH_ADMIN_PASSWORD", "must be at least 12 characters");
  return { email, password };
}

/**
 * Connection and request limits of the one port. REQUEST_TIMEOUT_MS must be at least
 * HEADERS_TIMEOUT_MS. Behind a proxy (TRUST_PROXY_HOPS > 0) every connection has the
 * proxy's address, so the per-address cap is off there unless set (the proxy limits its own clients).
 */
function connectionLimits(env: Env, trustProxyHops: number): Pick<Config, "headersTimeoutMs" | "requestTimeoutMs" | "maxConnections" | "maxConnectionsPerIp"> {
  const headersTimeoutMs = read(env, V.HEADERS_TIMEOUT_MS);
  const requestTimeoutMs = read(env, V.REQUEST_TIMEOUT_MS);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError("REQUEST_TIMEOUT_MS", `must be at least HEADERS_TIMEOUT_MS (${headersTimeoutMs}), got ${requestTimeoutMs}`);
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    maxConnections: read(env, V.MAX_CONNECTIONS),
    maxConnectionsPerIp: read(env, V.MAX_CONNECTIONS_PER_IP) ?? (trustProxyHops > 0 ? 0 : 256),
  };
}

/** METRICS_PORT (and METRICS_HOST, default HOST): the metrics listener, or undefined when off. */
function metricsListener(env: Env, host: string): Config["metrics"] {
  const port = read(env, V.METRICS_PORT);
  const metricsHost = read(env, V.METRICS_HOST);
  return port === undefined ? undefined : { host: metricsHost ?? host, port };
}

/** The OTEL_* variables: the exporter, where it sends, and how much is sampled. */
function tracingConfig(env: Env): TracingConfig {
  const base = read(env, V.OTEL_EXPORTER_OTLP_ENDPOINT);
  const traces = read(env, V.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const headers: Record<string, string> = {};
  for (const pair of (read(env, V.OTEL_EXPORTER_OTLP_HEADERS) ?? "").split(",")) {
    const eq = pair.indexOf("=");
    if (pair.trim() === "") continue;
    if (eq <= 0) throw new ConfigError("OTEL_EXPORTER_OTLP_HEADERS", "expected key=value pairs separated by commas");
    headers[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
  }
  return {
    exporter: read(env, V.OTEL_TRACES_EXPORTER),
    serviceName: read(env, V.OTEL_SERVICE_NAME),
    endpoint: traces ?? (base ? `${base.replace(/\/$/, "")}/v1/traces` : undefined),
    headers,
    sampleRatio: read(env, V.OTEL_TRACES_SAMPLER_ARG),
  };
}

/** Reads the environment once into a frozen Config. Throws ConfigError on a bad value. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const host = read(env, V.HOST);
  const port = read(env, V.PORT);
  const mode = authMode(env);
  const admin = adminUser(env, mode);
  const tls = tlsConfig(env);
  const publicUrl = read(env, V.TESSERA_PUBLIC_URL) ?? `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const passwordDisabled = read(env, V.AUTH_DISABLE_PASSWORD);
  const signupDisabled = read(env, V.AUTH_DISABLE_SIGNUP);
  const trustProxyHops = read(env, V.TRUST_PROXY_HOPS);
  const allowedRedirectUris = read(env, V.AUTH_ALLOWED_REDIRECT_URIS);
  // Providers count only in full mode: elsewhere their variables are not even read.
  const providers = mode === "full" ? providersConfig(env, allowedRedirectUris) : [];
  const database = databaseConfig(env);
  const config: Config = {
    version: packageVersion(),
    host,
    port,
    publicUrl,
    logsJson: read(env, V.LOGS_FORMAT_JSON),
    logLevel: read(env, V.LOG_LEVEL),
    logLevelSigusr2: read(env, V.LOG_LEVEL_SIGUSR2),
    logRpcSample: read(env, V.LOG_RPC_SAMPLE),
    shutdownTimeoutMs: read(env, V.SHUTDOWN_TIMEOUT_SECONDS) * 1000,
    database,
    dbAutoMigrate: read(env, V.DB_AUTO_MIGRATE),
    revocationProbeIntervalMs: read(env, V.REVOCATION_PROBE_INTERVAL_MS),
    authMode: mode,
    admin,
    passwordLoginEnabled: mode === "admin" || (mode === "full" && !passwordDisabled),
    signupEnabled: mode === "full" && !passwordDisabled && !signupDisabled,
    tokenAudience: read(env, V.AUTH_JWT_AUDIENCE) ?? publicUrl,
    accessTokenLifetimeSeconds: read(env, V.AUTH_JWT_ACCESS_TOKEN_LIFETIME),
    refreshTokenLifetimeSeconds: read(env, V.AUTH_JWT_REFRESH_TOKEN_LIFETIME),
    apiKeyExtraScopes: apiKeyExtraScopes(env),
    refreshReuseGraceSeconds: 10,
    sessionIdleTimeoutSeconds: read(env, V.AUTH_SESSION_IDLE_TIMEOUT),
    sessionMaxLifetimeSeconds: read(env, V.AUTH_SESSION_MAX_LIFETIME),
    oidc: providers.find((p): p is OidcConfig => p.kind === "oidc" && p.id === "default"),
    providers,
    allowedRedirectUris,
    adminApi: adminApiConfig(env),
    corsAllowedOrigins: read(env, V.CORS_ALLOWED_ORIGINS),
    redisUrl: read(env, V.REDIS_URL),
    redisKeyPrefix: read(env, V.REDIS_KEY_PREFIX),
    trustProxyHops,
    readMaxBytes: read(env, V.READ_MAX_BYTES),
    maxTimeoutMs: read(env, V.MAX_TIMEOUT_MS),
    ...connectionLimits(env, trustProxyHops),
    tls,
    tracing: tracingConfig(env),
    metrics: metricsListener(env, host),
    mail: mailConfig(env, publicUrl, mode === "full" && !passwordDisabled),
    requireVerifiedEmail: read(env, V.AUTH_REQUIRE_VERIFIED_EMAIL),
    mfa: mfaConfig(env, database, mode !== "none"),
  };
  return Object.freeze(config);
}
