/**
 * The `tessera` command: the server's own commands (serve, migrate, keys) and the
 * client commands (login, whoami, accounts, apikeys, members) that talk to a server
 * at TESSERA_API_URL. Exit codes: 0 ok, 1 a call failed, 2 usage.
 */
import { Command, Option } from "commander";
import { registerAccounts } from "./accounts.js";
import { registerApiKeys } from "./apikeys.js";
import { registerAuthCommands } from "./auth-commands.js";
import { registerKeys } from "./keys.js";
import { registerMembers } from "./members.js";
import { registerMigrate } from "./migrate.js";
import { fail } from "./run.js";

const program = new Command();
program
  .name("tessera")
  .description("Tessera: authentication for APIs")
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  })
  .addOption(new Option("-o, --output <format>", "output of client commands: table (default) or json").choices(["table", "json"]))
  .addHelpText(
    "after",
    `
Client commands talk to TESSERA_API_URL (default http://localhost:8080) and keep credentials in
TESSERA_CONFIG_DIR, else $XDG_CONFIG_HOME/tessera, else ~/.tessera (file mode 0600).
TESSERA_API_KEY authenticates with an API key instead. Exit codes: 0 ok, 1 a call failed, 2 usage.`,
  );

program
  .command("serve")
  .description("run the server (Connect, gRPC and gRPC-web on one port)")
  .action(async () => {
    // Loaded only here: client commands do not pay for the server's modules.
    const { serve } = await import("../main.js");
    await serve();
  });

registerMigrate(program);
registerKeys(program);
registerAuthCommands(program);
registerAccounts(program);
registerApiKeys(program);
registerMembers(program);

program.parseAsync(process.argv).catch(fail);
