/**
 * The migration lock on PostgreSQL, safe behind a transaction-mode pooler (PgBouncer).
 *
 * kysely's PostgresAdapter takes a session-level advisory lock (`pg_advisory_lock`) on the
 * migrator's connection, outside the migrations' transaction, and releases it with
 * `pg_advisory_unlock` afterwards. Behind PgBouncer in transaction mode those statements
 * may each run on a different server connection: the unlock then misses (on another
 * backend it only returns false), the lock stays held by a pooled backend, and the next
 * instance's migration waits on it until its query timeout (seen in CI:
 * test/revocation-pooler.test.ts, "Query read timeout" in releaseMigrationLock).
 *
 * Here the same key is taken with `pg_advisory_xact_lock` by a transaction of its own, on
 * a separate pooled connection, held open while the migrations run and committed to
 * release the lock: a pooler never splits one transaction across backends.
 */
import { PostgresAdapter, PostgresDialect, type DialectAdapter } from "kysely";
import type pg from "pg";

/** kysely's migration lock key: an older Tessera migrating at the same moment still excludes this one. */
export const MIGRATION_LOCK_ID = "3853314791062309107";

class TransactionLockAdapter extends PostgresAdapter {
  readonly #pool: pg.Pool;
  #holder: pg.PoolClient | undefined;

  constructor(pool: pg.Pool) {
    super();
    this.#pool = pool;
  }

  override async acquireMigrationLock(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("begin");
      await client.query("select pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_ID]);
    } catch (e) {
      // Destroyed rather than returned to the pool: its transaction state is unknown.
      client.release(e as Error);
      throw e;
    }
    // Another migrator of this process waits in pg_advisory_xact_lock until this one commits.
    this.#holder = client;
  }

  override async releaseMigrationLock(): Promise<void> {
    const client = this.#holder;
    this.#holder = undefined;
    if (!client) return;
    try {
      await client.query("commit");
      client.release();
    } catch (e) {
      client.release(e as Error);
      throw e;
    }
  }
}

/** kysely's PostgresDialect whose migration lock is TransactionLockAdapter's. */
export class PoolerSafePostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    super({ pool });
    this.#pool = pool;
  }

  override createAdapter(): DialectAdapter {
    return new TransactionLockAdapter(this.#pool);
  }
}
