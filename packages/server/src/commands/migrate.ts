/**
 * `tessera migrate up|down|status`. On an embedded database held by a running server,
 * `status` goes through that server and `up`/`down` refuse (see embedded.ts).
 */
import type { Command } from "commander";
import { runAdminCommand, withOwnDatabase } from "./embedded.js";

/** Adds the migrate commands. */
export function registerMigrate(program: Command): void {
  const migrate = program.command("migrate").description("apply, revert or list database migrations");
  const change = async (what: "up" | "down") => {
    const advice =
      what === "up"
        ? "stop it first, then run `tessera migrate up` (a server applies pending migrations itself when it starts)"
        : "stop it first, then run `tessera migrate down`";
    await withOwnDatabase(`tessera migrate ${what}`, advice, async (db) => {
      // Loaded only here: client commands of the CLI stay fast.
      const { createMigrator } = await import("../store/db.js");
      const migrator = createMigrator(db.kysely);
      const result = what === "up" ? await migrator.migrateToLatest() : await migrator.migrateDown();
      for (const r of result.results ?? []) process.stdout.write(`${r.status}\t${r.direction}\t${r.migrationName}\n`);
      if (result.error) throw result.error;
      if ((result.results ?? []).length === 0) process.stdout.write("nothing to do\n");
    });
  };
  migrate
    .command("up")
    .description("apply every pending migration")
    .action(() => change("up"));
  migrate
    .command("down")
    .description("revert the last applied migration")
    .action(() => change("down"));
  migrate
    .command("status")
    .description("list migrations and whether each is applied")
    .action(async () => {
      const { result } = await runAdminCommand("migrate.status", "tessera migrate status");
      for (const m of result.migrations) process.stdout.write(`${m.executedAt ? `applied ${m.executedAt}` : "pending"}\t${m.name}\n`);
    });
}
