/**
 * `tessera keys rotate|list`: Tessera's JWT signing keys.
 */
import type { Command } from "commander";

/** The server modules, loaded only when a keys command runs (client commands stay fast). */
async function serverParts() {
  const [{ loadConfigOrExit }, { rotateKeys }, { openDatabase }, { listUsableSigningKeys }] = await Promise.all([
    import("../main.js"),
    import("../auth/signing-keys.js"),
    import("../store/db.js"),
    import("../store/signing-keys.js"),
  ]);
  return { loadConfigOrExit, rotateKeys, openDatabase, listUsableSigningKeys };
}

/** Adds the keys commands. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage the keys that sign Tessera's access tokens");
  keys
    .command("rotate")
    .description("add a new active signing key and retire the current one (kept published until its tokens expire)")
    .action(async () => {
      const { loadConfigOrExit, rotateKeys, openDatabase } = await serverParts();
      const config = loadConfigOrExit();
      const db = await openDatabase(config.database);
      try {
        const r = await rotateKeys(db.kysely, new Date(), config.accessTokenLifetimeSeconds);
        process.stdout.write(`new signing key ${r.kid}\n`);
        for (const kid of r.retired) process.stdout.write(`retired ${kid}, published until ${r.publishUntil.toISOString()}\n`);
        process.stdout.write("running servers switch to the new key within a minute\n");
      } finally {
        await db.close();
      }
    });
  keys
    .command("list")
    .description("list the published signing keys (never the private parts)")
    .action(async () => {
      const { loadConfigOrExit, openDatabase, listUsableSigningKeys } = await serverParts();
      const config = loadConfigOrExit();
      const db = await openDatabase(config.database);
      try {
        for (const k of await listUsableSigningKeys(db.kysely, new Date())) {
          const state = k.retired_at ? `retired, published until ${k.publish_until?.toISOString()}` : "active";
          process.stdout.write(`${k.id}\t${k.alg}\t${k.created_at.toISOString()}\t${state}\n`);
        }
      } finally {
        await db.close();
      }
    });
}
