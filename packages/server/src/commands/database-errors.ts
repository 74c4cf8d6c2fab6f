/**
 * A database failure at startup, in the operator's terms: which setting pointed Tessera
 * at PostgreSQL, where (host and port, never the password), what went wrong, and the
 * likely fix, as one line. Errors are recognised by their shape (pg's DatabaseError with
 * a SQLSTATE, a socket error for the database's own port, pg's TLS and timeout messages);
 * anything else is not described, and the caller reports it as before.
 */
import type { DatabaseConfig } from "../config/config.js";

interface Names {
  /** Which settings gave the address. */
  setting: string;
  hostPort: string;
  host: string;
  credentials: string;
  database: string;
}

function namesFor(source: "DATABASE_URL" | "DB_*" | undefined): Names {
  if (source === "DB_*") {
    return { setting: "DB_HOST, DB_PORT", hostPort: "DB_HOST and DB_PORT", host: "DB_HOST", credentials: "DB_USER and DB_PASS", database: "DB_NAME" };
  }
  const url = source ?? "the database URL";
  return {
    setting: url,
    hostPort: `the host and port in ${url}`,
    host: `the host in ${url}`,
    credentials: `the user and password in ${url}`,
    database: `the database name in ${url}`,
  };
}

/** Host, port and database name of a PostgreSQL URL; never its password. */
function target(url: string): { host: string; port: number; database: string } {
  try {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, "") || u.searchParams.get("host") || "localhost";
    return { host, port: Number(u.port || u.searchParams.get("port") || 5432), database: decodeURIComponent(u.pathname.slice(1)) };
  } catch {
    return { host: "the configured host", port: 5432, database: "" };
  }
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"]);
const CERT_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

type ErrorShape = Error & { code?: unknown; port?: unknown; severity?: unknown; errors?: unknown };

/** The error itself, or the first member of an AggregateError (several addresses tried). */
function primary(e: ErrorShape): ErrorShape {
  if (Array.isArray(e.errors) && e.errors[0] instanceof Error) return e.errors[0] as ErrorShape;
  return e;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

/**
 * One line describing why the configured database could not be used at startup, naming
 * the setting in use, the host and port and the likely fix; undefined when `e` does not
 * look like a database error.
 */
export function explainDatabaseError(e: unknown, database: DatabaseConfig): string | undefined {
  if (!(e instanceof Error) || database.kind !== "postgres") return undefined;
  const err = primary(e as ErrorShape);
  const names = namesFor(database.source);
  const { host, port, database: dbName } = target(database.url);
  const where = `PostgreSQL at ${host.includes(":") && !host.startsWith("/") ? `[${host}]` : host}:${port} (from ${names.setting})`;
  const code = typeof err.code === "string" ? err.code : "";
  const message = oneLine(err.message);

  if (NETWORK_CODES.has(code)) {
    // A socket error for some other port came from something else (a provider, Redis).
    if (typeof err.port === "number" && err.port !== port) return undefined;
    if (code === "ECONNREFUSED") {
      return `cannot reach ${where}: connection refused. Is PostgreSQL running, and listening on that host and port? Check ${names.hostPort}.`;
    }
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
      return `cannot reach ${where}: the host name does not resolve (${message}). Check ${names.host}.`;
    }
    return `cannot reach ${where}: ${message}. Check ${names.hostPort}, and that no firewall drops the connection.`;
  }
  if (/does not support SSL connections/i.test(message)) {
    return database.source === "DB_*"
      ? `cannot connect to ${where}: the server does not accept TLS, which the DB_* settings require (with a verified certificate) unless DB_SSL_DISABLE=true. Enable TLS on the server, or set DB_SSL_DISABLE=true if the network to it is trusted.`
      : `cannot connect to ${where}: the server does not accept TLS, which sslmode in ${names.setting} asks for. Enable TLS on the server, or set sslmode=disable in ${names.setting} if the network to it is trusted.`;
  }
  if (CERT_CODES.has(code)) {
    return `cannot connect to ${where}: its TLS certificate is not trusted (${message}). Give Node the certificate authority that signed it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, and check that ${host} is a name the certificate was issued for.`;
  }
  if (/timeout exceeded when trying to connect|connection timeout|did not answer within/i.test(message)) {
    return `cannot reach ${where}: no answer in time (${message}). Check ${names.hostPort}, and that no firewall drops the connection.`;
  }
  if (code === "28P01" || code === "28000" || /^SASL: .*password/i.test(message)) {
    return `cannot log in to ${where}: ${message}. Check ${names.credentials}.`;
  }
  if (code === "3D000") {
    return `cannot use ${where}: ${message}. Create it (createdb -h ${host} -p ${port} ${dbName || "<name>"}) or fix ${names.database}.`;
  }
  if (code === "53300") {
    return `cannot connect to ${where}: ${message}. The server has no free connections: raise its max_connections, or put a pooler in front.`;
  }
  if (code === "57P03") {
    return `cannot connect to ${where}: ${message}. The server is starting or stopping: start Tessera again once it is up.`;
  }
  if (code === "42501") {
    return `cannot use ${where}: ${message}. The user needs the right to create and change Tessera's tables: grant them, or run \`tessera migrate up\` as the database owner and set DB_AUTO_MIGRATE=false.`;
  }
  if (/^[0-9A-Z]{5}$/.test(code) && typeof err.severity === "string") {
    return `database error from ${where}: ${message} (SQLSTATE ${code}).`;
  }
  if (/Connection terminated|connection error/i.test(message)) {
    return `cannot use ${where}: ${message}. Check ${names.hostPort}, and that it is a PostgreSQL server.`;
  }
  return undefined;
}
