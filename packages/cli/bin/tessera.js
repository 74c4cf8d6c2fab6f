#!/usr/bin/env node
// The `tessera` command of @tessera/cli. With the `tessera` server package installed
// beside it, serve, migrate and keys run too; without it they say how to get it.
import { runCli } from "../dist/esm/index.js";

let serverCommands;
try {
  ({ registerServerCommands: serverCommands } = await import("tessera/commands"));
} catch (e) {
  // Only "the server package is not installed" is expected; anything else is a real failure.
  if (!(e && e.code === "ERR_MODULE_NOT_FOUND" && /'tessera(\/commands)?'/.test(String(e.message)))) throw e;
}
runCli(serverCommands);
