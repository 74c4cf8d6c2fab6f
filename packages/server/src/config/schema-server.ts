/**
 * Declarations of the server's variables: where it listens, the database, logs, request
 * and connection limits, browsers and proxies, Redis. Descriptions keep the wording of
 * the README's configuration table.
 */
import { bool, httpUrl, int, list, oneOf, postgresUrl, ratio, text, verbatim } from "./parse.js";
import { variable } from "./variable.js";

/** The server's variables, by name. */
export const SERVER_VARIABLES = {
  HOST: variable({ name: "HOST", section: "server", parser: text(), default: "127.0.0.1", description: "address to listen on" }),
  PORT: variable({ name: "PORT", section: "server", parser: int(0, 65535), default: 8080, description: "port for Connect, gRPC and gRPC-web" }),
  TESSERA_PUBLIC_URL: variable({
    name: "TESSERA_PUBLIC_URL",
    section: "server",
    parser: httpUrl(),
    default: undefined,
    defaultText: "`http://HOST:PORT`",
    description: "public base URL of this server; the issuer of its tokens",
  }),
  SHUTDOWN_TIMEOUT_SECONDS: variable({
    name: "SHUTDOWN_TIMEOUT_SECONDS",
    section: "server",
    parser: int(0, 3600),
    default: 10,
    description: "how long SIGTERM/SIGINT wait for in-flight requests",
  }),

  DATABASE_URL: variable({
    name: "DATABASE_URL",
    section: "database",
    parser: postgresUrl(),
    default: undefined,
    defaultText: "unset: embedded PGlite",
    secret: true,
    description:
      "PostgreSQL connection URL, used as written: TLS only if its `sslmode` asks for it (`sslmode=verify-full`); without `sslmode` the connection is plaintext, **unlike the `DB_*` form**",
  }),
  DATABASE_LISTEN_URL: variable({
    name: "DATABASE_LISTEN_URL",
    section: "database",
    parser: postgresUrl(),
    default: undefined,
    defaultText: "unset: the database URL",
    secret: true,
    description:
      "PostgreSQL connection URL for `LISTEN` (the revocation broadcast between instances), like Prisma's `directUrl`: set it to a direct or session-mode connection when `DATABASE_URL` goes through a transaction pooler (PgBouncer `pool_mode = transaction`, RDS Proxy, Supavisor, Neon's pooler), which never delivers notifications ([operations.md](operations.md#connection-poolers))",
  }),
  DB_HOST: variable({
    name: "DB_HOST",
    section: "database",
    parser: text(),
    default: undefined,
    description:
      "PostgreSQL host: setting it selects the connection parts `DB_*` (used when `DATABASE_URL` is unset). TLS is **required** by default, with a certificate Node trusts for `DB_HOST` (`sslmode=verify-full`; a private CA through `NODE_EXTRA_CA_CERTS=/path/to/ca.pem`)",
  }),
  DB_PORT: variable({ name: "DB_PORT", section: "database", parser: int(1, 65535), default: 5432, description: "PostgreSQL port (with `DB_HOST`)" }),
  DB_NAME: variable({ name: "DB_NAME", section: "database", parser: text(), default: "tessera", description: "database name (with `DB_HOST`)" }),
  DB_USER: variable({ name: "DB_USER", section: "database", parser: text(), default: "postgres", description: "database user (with `DB_HOST`)" }),
  DB_PASS: variable({
    name: "DB_PASS",
    section: "database",
    parser: verbatim(),
    default: "",
    secret: true,
    description: "the user's password (with `DB_HOST`)",
  }),
  DB_SSL_DISABLE: variable({
    name: "DB_SSL_DISABLE",
    section: "database",
    parser: bool(),
    default: false,
    description:
      "connect without TLS in the `DB_*` form (without it, a server that has no TLS is refused at startup); `DATABASE_URL` follows its own `sslmode`",
  }),
  DB_AUTO_MIGRATE: variable({
    name: "DB_AUTO_MIGRATE",
    section: "database",
    parser: bool(),
    default: true,
    description: "apply pending migrations at startup",
  }),
  TESSERA_DATA_DIR: variable({
    name: "TESSERA_DATA_DIR",
    section: "database",
    parser: text(),
    default: "./.tessera/data",
    description: "where the embedded database keeps its files",
  }),

  REVOCATION_PROBE_INTERVAL_MS: variable({
    name: "REVOCATION_PROBE_INTERVAL_MS",
    section: "database",
    parser: int(200, 600_000),
    default: 5000,
    description:
      "how often an instance sends itself a notification to prove the revocation broadcast works; while it does not come back (within 2 s), `/health` says `degraded` and API keys and tokens are checked against the database's revocation log at least every second ([revocation.md](revocation.md))",
  }),

  LOGS_FORMAT_JSON: variable({
    name: "LOGS_FORMAT_JSON",
    section: "logging",
    parser: bool(),
    default: true,
    description: "JSON log lines; `false` for plain text",
  }),
  LOG_LEVEL: variable({
    name: "LOG_LEVEL",
    section: "logging",
    parser: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    default: "info",
    description: "`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`",
  }),
  LOG_LEVEL_SIGUSR2: variable({
    name: "LOG_LEVEL_SIGUSR2",
    section: "logging",
    parser: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    default: "debug",
    description:
      "the level a `SIGUSR2` switches a running `tessera serve` to, and the next `SIGUSR2` back to `LOG_LEVEL` (each switch logged at `warn`); e.g. `LOG_LEVEL=warn` and `LOG_LEVEL_SIGUSR2=info` to see every RPC's line for a while without a restart",
  }),
  LOG_RPC_SAMPLE: variable({
    name: "LOG_RPC_SAMPLE",
    section: "logging",
    parser: ratio(),
    default: 1,
    description:
      "share of successful RPCs whose info line is written, evenly spread per procedure (`0.1`: one in ten, each such line carrying `sample_ratio`; `0`: none); every failed RPC's line is written",
  }),

  READ_MAX_BYTES: variable({
    name: "READ_MAX_BYTES",
    section: "limits",
    parser: int(1024, 64 * 1024 * 1024),
    default: 1024 * 1024,
    description: "largest request body (larger: `ResourceExhausted`)",
  }),
  MAX_TIMEOUT_MS: variable({
    name: "MAX_TIMEOUT_MS",
    section: "limits",
    parser: int(100, 600_000),
    default: 30_000,
    description: "server-side deadline of every RPC, and the largest a client may ask for",
  }),
  HEADERS_TIMEOUT_MS: variable({
    name: "HEADERS_TIMEOUT_MS",
    section: "limits",
    parser: int(500, 600_000),
    default: 10_000,
    description:
      "a new connection must send its first request's headers within this of connecting, whatever it trickles (HTTP/1.1: `408`; HTTP/2: `GOAWAY`; then closed)",
  }),
  REQUEST_TIMEOUT_MS: variable({
    name: "REQUEST_TIMEOUT_MS",
    section: "limits",
    parser: int(500, 3_600_000),
    default: 60_000,
    description:
      "every request, headers and body, must have arrived within this, on every protocol (HTTP/1.1: `408` and the connection closed; HTTP/2: `DeadlineExceeded` in the request's protocol, then the stream is reset). Only the client's half is timed: a response may take longer. An HTTP/2 connection without an open stream is closed after this long",
  }),
  MAX_CONNECTIONS: variable({
    name: "MAX_CONNECTIONS",
    section: "limits",
    parser: int(1, 1_000_000),
    default: 4096,
    description:
      "open connections at most; more are refused (HTTP/1.1 `503`, HTTP/2 `GOAWAY` `REFUSED_STREAM`). Keep it under the process's open-file limit (`ulimit -n`)",
  }),
  MAX_CONNECTIONS_PER_IP: variable({
    name: "MAX_CONNECTIONS_PER_IP",
    section: "limits",
    parser: int(0, 1_000_000),
    default: undefined,
    defaultText: "`256`; `0` when `TRUST_PROXY_HOPS` > 0",
    description:
      "open connections from one client address, IPv6 counted per /64; more are refused (HTTP/1.1 `429`, HTTP/2 `GOAWAY` `ENHANCE_YOUR_CALM`); `0`: no per-address cap. Behind a proxy every connection has the proxy's address, so with `TRUST_PROXY_HOPS` > 0 the default is `0` (let the proxy limit its clients); set it to cap the proxy's own connections",
  }),

  CORS_ALLOWED_ORIGINS: variable({
    name: "CORS_ALLOWED_ORIGINS",
    section: "network",
    parser: list(),
    default: [],
    defaultText: "none",
    description: "browser origins allowed to call the API (comma-separated)",
  }),
  TRUST_PROXY_HOPS: variable({
    name: "TRUST_PROXY_HOPS",
    section: "network",
    parser: int(0, 10),
    default: 0,
    description: "number of trusted proxies in front (enables `X-Forwarded-For`)",
  }),

  REDIS_URL: variable({
    name: "REDIS_URL",
    section: "redis",
    parser: text(),
    default: undefined,
    defaultText: "unset: in memory",
    secret: true,
    description: "share abuse limits between instances (while Redis is unreachable each instance counts alone; `/health` and the log say so)",
  }),
  REDIS_KEY_PREFIX: variable({
    name: "REDIS_KEY_PREFIX",
    section: "redis",
    parser: text(),
    default: "tessera:",
    description: "prefix of Tessera's Redis keys",
  }),
} as const;
