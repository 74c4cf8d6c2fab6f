/**
 * Where the data lives, from DATABASE_URL, else the DB_* parts, else the embedded
 * database under TESSERA_DATA_DIR.
 */
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** Where the data lives: a PostgreSQL server, or embedded PGlite under a directory. */
export type DatabaseConfig =
  /** `source`: which settings gave the URL, for error messages (unset when built in code). */
  /** `listenUrl`: DATABASE_LISTEN_URL, the connection for LISTEN (the URL itself when unset). */
  { kind: "postgres"; url: string; source?: "DATABASE_URL" | "DB_*"; listenUrl?: string } | { kind: "pglite"; dataDir: string };

/** DATABASE_URL wins; the DB_* parts count only when DB_HOST is set (and only then are read). */
export function databaseConfig(env: Env): DatabaseConfig {
  const databaseUrl = read(env, V.DATABASE_URL);
  const listenUrl = read(env, V.DATABASE_LISTEN_URL);
  const listen = listenUrl === undefined ? {} : { listenUrl };
  if (databaseUrl !== undefined) return { kind: "postgres", url: databaseUrl, source: "DATABASE_URL", ...listen };
  const host = read(env, V.DB_HOST);
  if (host === undefined) return { kind: "pglite", dataDir: read(env, V.TESSERA_DATA_DIR) };
  const port = read(env, V.DB_PORT);
  const name = read(env, V.DB_NAME);
  const user = read(env, V.DB_USER);
  const pass = read(env, V.DB_PASS);
  const sslDisable = read(env, V.DB_SSL_DISABLE);
  const auth = pass === "" ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(pass)}`;
  // TLS with a certificate Node trusts for this host: what pg does for "require" too, but named, without its warning.
  const ssl = sslDisable ? "?sslmode=disable" : "?sslmode=verify-full";
  return { kind: "postgres", url: `postgres://${auth}@${host}:${port}/${encodeURIComponent(name)}${ssl}`, source: "DB_*", ...listen };
}
