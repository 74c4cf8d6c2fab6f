/**
 * `tessera keys rotate|list`: Tessera's JWT signing keys. On an embedded database held
 * by a running server, both go through that server (see embedded.ts).
 */
import type { Command } from "commander";
import { runAdminCommand } from "./embedded.js";

/** Adds the keys commands. */
export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage the keys that sign Tessera's access tokens");
  keys
    .command("rotate")
    .description("add a new active signing key and retire the current one (kept published until its tokens expire)")
    .action(async () => {
      const { result: r, ran } = await runAdminCommand("keys.rotate", "tessera keys rotate");
      process.stdout.write(`new signing key ${r.kid}\n`);
      for (const kid of r.retired) process.stdout.write(`retired ${kid}, published until ${r.publishUntil}\n`);
      if (ran.where === "server") {
        process.stdout.write(
          r.signsNow
            ? `the running server (pid ${ran.pid}) signs with it now\n`
            : `the running server (pid ${ran.pid}) signs no tokens in AUTH_MODE=none; it signs with this key once started in admin or full mode\n`,
        );
      }
      // No server can be running on an embedded database this process could open.
      else if (ran.database === "postgres") process.stdout.write("running servers switch to the new key within a minute\n");
    });
  keys
    .command("list")
    .description("list the published signing keys (never the private parts), under a header line")
    .action(async () => {
      const { result } = await runAdminCommand("keys.list", "tessera keys list");
      process.stdout.write("KID\tALG\tCREATED\tSTATE\n");
      if (result.keys.length === 0) {
        process.stdout.write("no signing keys yet: AUTH_MODE=none signs no tokens; the first start in AUTH_MODE=admin or full creates one\n");
      }
      for (const k of result.keys) {
        const state = k.retiredAt ? `retired, published until ${k.publishUntil}` : "active";
        process.stdout.write(`${k.id}\t${k.alg}\t${k.createdAt}\t${state}\n`);
      }
    });
}
