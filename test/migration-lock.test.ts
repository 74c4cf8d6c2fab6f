/**
 * The migration lock behind PgBouncer in transaction mode (store/migration-lock.ts).
 * kysely's own lock is session-level, taken and released by separate statements: behind
 * a transaction pooler they may run on different backends, the release misses, and the
 * next instance's migration hangs until its query timeout (a CI run of
 * revocation-pooler.test.ts did). Tessera's lock lives in a transaction of its own.
 */
import { Kysely, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateToLatest, openDatabase } from "../packages/server/src/store/db.js";
import { MIGRATION_LOCK_ID, PoolerSafePostgresDialect } from "../packages/server/src/store/migration-lock.js";
import { startPgBouncer, type PgBouncer } from "./helpers/pgbouncer.js";
import { useTessera } from "./harness.js";

/** Backends holding the migration lock, and whether each is inside a transaction. */
async function lockHolders(direct: pg.Client): Promise<string[]> {
  const r = await direct.query<{ state: string }>(
    `select a.state from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted
        and ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint`,
    [MIGRATION_LOCK_ID],
  );
  return r.rows.map((row) => row.state);
}

describe("the migration lock behind PgBouncer (pool_mode = transaction)", () => {
  const t = useTessera({ ownDatabase: true, server: false });
  let bouncer: PgBouncer;
  let direct: pg.Client;

  beforeAll(async () => {
    const url = t.database.env.DATABASE_URL!;
    const u = new URL(url);
    bouncer = await startPgBouncer({ host: u.hostname, port: Number(u.port || 5432) });
    direct = new pg.Client({ connectionString: url });
    await direct.connect();
  });
  afterAll(async () => {
    await direct?.end();
    await bouncer?.stop();
  });

  it("is held by a transaction of its own while migrations run, and released by its commit", async () => {
    const pool = new pg.Pool({ connectionString: bouncer.via(t.database.env.DATABASE_URL!), max: 4 });
    pool.on("error", () => {}); // an idle client cut off when PgBouncer stops
    const dialect = new PoolerSafePostgresDialect(pool);
    const db = new Kysely<unknown>({ dialect });
    try {
      const adapter = dialect.createAdapter();
      const options = { lockTable: "tessera_migrations_lock", lockRowId: "migration_lock" };
      await adapter.acquireMigrationLock(db, options);
      // A session lock would show an idle backend, kept by the pooler for whoever comes next.
      expect(await lockHolders(direct)).toEqual(["idle in transaction"]);
      await adapter.releaseMigrationLock(db, options);
      expect(await lockHolders(direct)).toEqual([]);
    } finally {
      // The pool itself: Kysely ends it only if it ever ran a query through it (this adapter does not).
      await pool.end();
    }
  });

  it("lets instances migrate through PgBouncer at the same time, again and again, leaving no lock behind", async () => {
    const url = bouncer.via(t.database.env.DATABASE_URL!);
    for (let round = 0; round < 5; round++) {
      const dbs = await Promise.all([0, 1, 2].map(() => openDatabase({ kind: "postgres", url })));
      try {
        await Promise.all(dbs.map((d) => migrateToLatest(d.kysely)));
        // Each instance's pool keeps working afterwards.
        for (const d of dbs) expect((await sql<{ one: number }>`select 1 as one`.execute(d.kysely)).rows[0]?.one).toBe(1);
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
      expect(await lockHolders(direct)).toEqual([]);
    }
  });
});
