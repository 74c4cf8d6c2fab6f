/**
 * Opens the database: PostgreSQL through `pg` when configured, otherwise embedded
 * PostgreSQL (PGlite) persisted under a data directory. Same schema, same queries.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Kysely, Migrator, sql, type MigrationResultSet } from "kysely";
import pg from "pg";
import type { DatabaseConfig } from "../config/config.js";
import type { PoolStats } from "../metrics/metrics.js";
import { lockDataDir } from "./data-dir-lock.js";
import { PoolerSafePostgresDialect } from "./migration-lock.js";
import type { Database } from "./schema.js";
import { migrationProvider } from "./migrations/index.js";

/** A handler for a PostgreSQL notification payload. */
type NotificationHandler = (payload: string) => void;

/** An open database with its Kysely instance and lifecycle. */
export interface Db {
  readonly kind: DatabaseConfig["kind"];
  readonly kysely: Kysely<Database>;
  /** The embedded database's directory (absolute), which this process holds locked; undefined for PostgreSQL and `memory://`. */
  readonly dataDir?: string;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Subscribes to a notification channel (LISTEN on DATABASE_LISTEN_URL, else the
   * database URL). Resolves once listening, with a function that unsubscribes. After the
   * listener connection comes back from a failure, every handler receives `*`: anything
   * may have been missed meanwhile.
   */
  listen(channel: string, handler: NotificationHandler): Promise<() => void>;
  /** True while the LISTEN connection is up (PGlite: always). Delivery is proved only by a round trip. */
  listenerConnected(): boolean;
  /** Sends a notification (NOTIFY) to every listener of every process sharing the database. */
  notify(channel: string, payload: string): Promise<void>;
  /** The connection pool's occupancy (PostgreSQL; the embedded database has no pool). */
  poolStats?(): PoolStats;
  close(): Promise<void>;
}

// Return timestamptz as Date and int8 as number where it fits (counts).
pg.types.setTypeParser(20, (v) => Number(v));

const CHANNEL_RE = /^[a-z_][a-z0-9_]{0,62}$/;

function checkChannel(channel: string): void {
  if (!CHANNEL_RE.test(channel)) throw new Error(`invalid channel name: ${channel}`);
}

async function openPostgres(url: string, listenUrl: string, onError: (e: Error) => void): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 20,
    // A stopped database must surface as an error within ~2 s, not hang.
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30000,
    query_timeout: 10000,
    keepAlive: true,
  });
  pool.on("error", onError);
  // pg-pool listens for errors only on idle clients: a checked-out client whose server
  // goes away between queries (inside a transaction, say) would emit an unhandled
  // 'error' and crash the process. Every client keeps a listener for its whole life.
  pool.on("connect", (client) => client.on("error", onError));
  // Its migration lock holds behind a transaction-mode pooler (migration-lock.ts).
  const kysely = new Kysely<Database>({ dialect: new PoolerSafePostgresDialect(pool) });

  // One dedicated connection for LISTEN, re-established after a failure.
  const handlers = new Map<string, Set<NotificationHandler>>();
  let listener: pg.Client | undefined;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  async function connectListener(): Promise<void> {
    if (closed || handlers.size === 0) return;
    const client = new pg.Client({ connectionString: listenUrl, connectionTimeoutMillis: 2000, keepAlive: true });
    client.on("notification", (msg) => {
      const set = handlers.get(msg.channel);
      if (set) for (const h of set) h(msg.payload ?? "");
    });
    const retry = (e: Error) => {
      onError(e);
      if (listener === client) listener = undefined;
      client.end().catch(() => {});
      if (!closed && !reconnectTimer) {
        reconnectTimer = setTimeout(() => {
          reconnectTimer = undefined;
          connectListener().catch(() => {});
        }, 500);
        reconnectTimer.unref();
      }
    };
    client.on("error", retry);
    client.on("end", () => {
      if (listener === client && !closed) retry(new Error("listener connection ended"));
    });
    try {
      await client.connect();
      for (const ch of handlers.keys()) await client.query(`LISTEN ${ch}`);
      listener = client;
      // Anything may have been missed while disconnected: tell handlers to resync.
      for (const set of handlers.values()) for (const h of set) h("*");
    } catch (e) {
      retry(e as Error);
      throw e;
    }
  }

  return {
    kind: "postgres",
    kysely,
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async ping(timeoutMs = 2000) {
      await withTimeout(sql`select 1`.execute(kysely), timeoutMs);
    },
    async listen(channel, handler) {
      checkChannel(channel);
      const isNew = !handlers.has(channel);
      if (isNew) handlers.set(channel, new Set());
      handlers.get(channel)!.add(handler);
      if (!listener) await connectListener();
      else if (isNew) await listener.query(`LISTEN ${channel}`);
      return () => {
        handlers.get(channel)?.delete(handler);
      };
    },
    listenerConnected: () => listener !== undefined,
    async notify(channel, payload) {
      checkChannel(channel);
      await sql`select pg_notify(${channel}, ${payload})`.execute(kysely);
    },
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const l = listener;
      listener = undefined;
      if (l) await l.end().catch(() => {});
      await kysely.destroy();
    },
  };
}

async function openPglite(config: { dataDir: string }, command: string): Promise<Db> {
  const inMemory = config.dataDir === "memory://";
  const dataDir = inMemory ? undefined : path.resolve(config.dataDir);
  let lock: ReturnType<typeof lockDataDir> | undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    // PGlite is single-process: a second process on the same files loses data.
    lock = lockDataDir(dataDir, command);
  }
  let pglite: import("@electric-sql/pglite").PGlite;
  let dialect: import("kysely-pglite-dialect").PGliteDialect;
  try {
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([import("@electric-sql/pglite"), import("kysely-pglite-dialect")]);
    pglite = await PGlite.create(dataDir ?? config.dataDir);
    dialect = new PGliteDialect(pglite);
  } catch (e) {
    lock?.release();
    throw e;
  }
  const kysely = new Kysely<Database>({ dialect });
  const handlers = new Map<string, Set<NotificationHandler>>();
  return {
    kind: "pglite",
    kysely,
    dataDir,
    async ping(timeoutMs = 2000) {
      await withTimeout(sql`select 1`.execute(kysely), timeoutMs);
    },
    async listen(channel, handler) {
      checkChannel(channel);
      // One process owns a PGlite database: notifications stay in-process.
      if (!handlers.has(channel)) handlers.set(channel, new Set());
      handlers.get(channel)!.add(handler);
      return () => {
        handlers.get(channel)?.delete(handler);
      };
    },
    listenerConnected: () => !pglite.closed,
    async notify(channel, payload) {
      checkChannel(channel);
      const set = handlers.get(channel);
      if (set) for (const h of set) queueMicrotask(() => h(payload));
    },
    async close() {
      try {
        await kysely.destroy();
      } finally {
        if (!pglite.closed) await pglite.close();
        // Only once PGlite has let go of the files (else the exit hook releases it).
        lock?.release();
      }
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`database did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Options of openDatabase. */
export interface OpenOptions {
  /** What this process runs, recorded in an embedded data directory's lock (e.g. `tessera serve`). */
  command?: string;
}

/**
 * Opens the configured database. `onError` receives background connection errors. An
 * embedded data directory is locked for this process until `close()`; while another
 * live process holds it, this throws DataDirLockedError.
 */
export async function openDatabase(config: DatabaseConfig, onError: (e: Error) => void = () => {}, opts: OpenOptions = {}): Promise<Db> {
  if (config.kind === "postgres") return openPostgres(config.url, config.listenUrl ?? config.url, onError);
  const command =
    opts.command ??
    process.argv
      .slice(1)
      .map((a, i) => (i === 0 ? path.basename(a) : a))
      .join(" ")
      .slice(0, 200);
  return openPglite(config, command);
}

/** Migrator over the static migration list. */
export function createMigrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: migrationProvider, migrationTableName: "tessera_migrations", migrationLockTableName: "tessera_migrations_lock" });
}

/** Applies every pending migration; throws with the failing migration's error. */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationResultSet> {
  const result = await createMigrator(db).migrateToLatest();
  if (result.error) throw result.error;
  return result;
}

/** True for errors that mean "the database cannot be reached right now". */
export function isUnavailableError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"].includes(code)) return true;
    // Class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now), 53300 (too many connections).
    if (code.startsWith("08") || ["57P01", "57P02", "57P03", "53300"].includes(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|did not answer within|Client has encountered a connection error|connect ECONNREFUSED/i.test(
    e.message,
  );
}
