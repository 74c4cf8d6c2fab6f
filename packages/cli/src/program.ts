/**
 * The `tessera` command: the client commands (login, whoami, accounts, apikeys,
 * members, mfa) that talk to a server at TESSERA_API_URL, and, when the `tessera` server
 * package is installed, the server's own commands (serve, migrate, keys).
 * Exit codes: 0 ok, 1 a call failed, 2 usage.
 */
import { Command, Option } from "commander";
import { registerAccounts } from "./accounts.js";
import { registerApiKeys } from "./apikeys.js";
import { registerAuthCommands } from "./auth-commands.js";
import { UsageError } from "./errors.js";
import { registerMembers } from "./members.js";
import { registerMfa } from "./mfa.js";
import { fail } from "./run.js";
import { cliVersion } from "./version.js";

/** Registers the server's commands on the program (the `tessera` package provides it). */
export type ServerCommands = (program: Command) => void;

/** Commands only the server package can run, offered with a pointer to it when it is absent. */
const SERVER_COMMANDS = [
  ["serve", "run the server (Connect, gRPC and gRPC-web on one port)"],
  ["migrate", "apply, revert or list database migrations"],
  ["keys", "manage the keys that sign Tessera's access tokens"],
] as const;

/** Builds the `tessera` program; `serverCommands` adds serve, migrate and keys. */
export function createProgram(serverCommands?: ServerCommands): Command {
  const program = new Command();
  program
    .name("tessera")
    .description("Tessera: authentication for APIs")
    .version(cliVersion(), "-V, --version", "print the version")
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

  if (serverCommands) serverCommands(program);
  else {
    for (const [name, description] of SERVER_COMMANDS) {
      program
        .command(name)
        .description(`${description} (needs the tessera server package)`)
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() =>
          fail(new UsageError(`\`tessera ${name}\` needs the server, the \`tessera\` package: \`npm install tessera\`, then \`npx tessera ${name}\``)),
        );
    }
  }
  registerAuthCommands(program);
  registerAccounts(program);
  registerApiKeys(program);
  registerMembers(program);
  registerMfa(program);
  return program;
}

/** Runs the `tessera` command line with `argv` (default: this process's). */
export function runCli(serverCommands?: ServerCommands, argv: readonly string[] = process.argv): void {
  createProgram(serverCommands)
    .parseAsync([...argv])
    .catch(fail);
}
