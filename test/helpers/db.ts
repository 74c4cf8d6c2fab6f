/**
 * Test databases: a fresh PostgreSQL database cloned from the migrated template, or
 * a fresh PGlite directory copied from the migrated template directory.
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from "kysely";
import { inject } from "vitest";
import type { DatabaseConfig } from "../../packages/server/src/config/config.js";
import { openDatabase, type Db } from "../../packages/server/src/store/db.js";

export type DbKind = "postgres" | "pglite";

/** Both kinds, for `describe.each`. */
export const DB_KINDS: DbKind[] = ["postgres", "pglite"];

export interface TestDatabase {
  kind: DbKind;
  config: DatabaseConfig;
  /** A database connection of the test's own (the app may open its own from `config`). */
  db: Db;
  /** Environment variables that point a server process at this database. */
  env: Record<string, string>;
  /** Closes and drops the database. */
  drop(): Promise<void>;
}

function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A TestDatabase whose `drop` closes the test's connection, then runs `remove` once. */
function testDatabase(kind: DbKind, config: DatabaseConfig, db: Db, env: Record<string, string>, remove: () => Promise<void>): TestDatabase {
  let dropped = false;
  return {
    kind,
    config,
    db,
    env,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.close().catch(() => {});
      await remove();
    },
  };
}

/** A fresh PostgreSQL database (already migrated) on the local server. */
async function createPostgresDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const name = `tessera_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject("pgTemplate")}`);
  } finally {
    await admin.end();
  }
  const url = withDb(adminUrl, name);
  const config: DatabaseConfig = { kind: "postgres", url };
  return testDatabase("postgres", config, await openDatabase(config), { DATABASE_URL: url }, async () => {
    const a = new pg.Client({ connectionString: adminUrl });
    await a.connect();
    try {
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await a.end();
    }
  });
}

/** A fresh PGlite database (already migrated) in a temporary directory. */
async function createPgliteDatabase(): Promise<TestDatabase> {
  const root = mkdtempSync(path.join(tmpdir(), "tessera-pglite-"));
  const dataDir = path.join(root, "data");
  cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
  const config: DatabaseConfig = { kind: "pglite", dataDir };
  return testDatabase("pglite", config, await openDatabase(config), { TESSERA_DATA_DIR: dataDir }, async () => {
    rmSync(root, { recursive: true, force: true });
  });
}

/** A fresh database of the given kind. */
export function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  return kind === "postgres" ? createPostgresDatabase() : createPgliteDatabase();
}

/**
 * A Kysely plugin (`kysely.withPlugin(counter)`) that counts the queries naming any of
 * `tables`, and can make them fail (`failing = true`) to simulate a database error.
 */
export class TableQueryCounter implements KyselyPlugin {
  count = 0;
  failing = false;
  readonly #pattern: RegExp;
  readonly #ignore: (queryJson: string) => boolean;
  /** `ignore`: queries not to count (a background sweep's), given the query node as JSON. */
  constructor(tables: readonly string[], ignore: (queryJson: string) => boolean = () => false) {
    this.#pattern = new RegExp(`"(${tables.join("|")})"`);
    this.#ignore = ignore;
  }
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const text = JSON.stringify(args.node, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
    if (this.#pattern.test(text) && !this.#ignore(text)) {
      this.count++;
      if (this.failing) throw new Error("simulated database error");
    }
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
