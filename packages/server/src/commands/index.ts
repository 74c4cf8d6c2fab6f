/**
 * The server's commands for the `tessera` program: serve, migrate and keys. The
 * server's modules load only when one of them runs, so client commands stay fast.
 */
import type { Command } from "commander";
import { registerKeys } from "./keys.js";
import { registerMigrate } from "./migrate.js";

/** Adds serve, migrate and keys to the `tessera` program. */
export function registerServerCommands(program: Command): void {
  program
    .command("serve")
    .description("run the server (Connect, gRPC and gRPC-web on one port)")
    .action(async () => {
      const { serve } = await import("./serve.js");
      await serve();
    });
  registerMigrate(program);
  registerKeys(program);
}
