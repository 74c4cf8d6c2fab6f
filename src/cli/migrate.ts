/**
 * `tessera migrate up|down|status`.
 */
import type { Command } from "commander";

/** Adds the migrate commands. */
export function registerMigrate(program: Command): void {
  const migrate = program.command("migrate").description("apply, revert or list database migrations");
  const run = async (what: "up" | "down" | "status") => {
    // Loaded only here: client commands of the CLI stay fast.
    const [{ createMigrator, openDatabase }, { loadConfigOrExit }] = await Promise.all([import("../store/db.js"), import("../main.js")]);
    const config = loadConfigOrExit();
    const db = await openDatabase(config.database);
    try {
      const migrator = createMigrator(db.kysely);
      if (what === "status") {
        for (const m of await migrator.getMigrations()) {
          process.stdout.write(`${m.executedAt ? "applied " + m.executedAt.toISOString() : "pending"}\t${m.name}\n`);
        }
        return;
      }
      const result = what === "up" ? await migrator.migrateToLatest() : await migrator.migrateDown();
      for (const r of result.results ?? []) process.stdout.write(`${r.status}\t${r.direction}\t${r.migrationName}\n`);
      if (result.error) throw result.error;
      if ((result.results ?? []).length === 0) process.stdout.write("nothing to do\n");
    } finally {
      await db.close();
    }
  };
  migrate.command("up").description("apply every pending migration").action(() => run("up"));
  migrate.command("down").description("revert the last applied migration").action(() => run("down"));
  migrate.command("status").description("list migrations and whether each is applied").action(() => run("status"));
}
