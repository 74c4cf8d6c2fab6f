/**
 * Runs once per `vitest run`: builds the workspace packages whose sources changed (the
 * processes tests spawn, like the CLI, the server and the examples, run the built
 * packages), checks the local PostgreSQL, builds a migrated template database that each
 * test file clones (fast, isolated), and a migrated PGlite data directory that PGlite
 * tests copy.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { buildStale } from "../scripts/build-stale.mjs";
import { migrateToLatest, openDatabase } from "../packages/server/src/store/db.js";

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    pgliteTemplateDir: string;
  }
}

function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  buildStale();
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`tests need PostgreSQL at ${ADMIN_URL} (set TEST_DATABASE_ADMIN_URL): ${(e as Error).message}`);
  }
  const template = `tessera_tpl_${process.pid}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${template}`);
  const db = await openDatabase({ kind: "postgres", url: withDb(ADMIN_URL, template) });
  await migrateToLatest(db.kysely);
  await db.close();
  await admin.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE true`);

  const pgliteRoot = mkdtempSync(path.join(tmpdir(), "tessera-pglite-tpl-"));
  const pgliteDir = path.join(pgliteRoot, "data");
  const lite = await openDatabase({ kind: "pglite", dataDir: pgliteDir });
  await migrateToLatest(lite.kysely);
  await lite.close();

  project.provide("pgAdminUrl", ADMIN_URL);
  project.provide("pgTemplate", template);
  project.provide("pgliteTemplateDir", pgliteDir);

  return async () => {
    await admin.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE false`).catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(pgliteRoot, { recursive: true, force: true });
  };
}
