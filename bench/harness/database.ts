/** Bench databases on the local PostgreSQL server: created empty, always dropped. */
import pg from "pg";
import { onCleanup } from "./cleanup.js";

/** The PostgreSQL server's admin URL (database `postgres`). */
function adminUrl(): string {
  return process.env.BENCH_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

/** The URL of database `name` on the admin URL's server. */
function databaseUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty database and registers its drop (WITH FORCE). */
export async function createDatabase(name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(async () => {
    const a = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5_000 });
    await a.connect();
    try {
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await a.end();
    }
  });
  return databaseUrl(name);
}
