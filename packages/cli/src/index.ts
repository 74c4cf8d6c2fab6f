/**
 * `@tessera/cli`: the `tessera` command's client commands (login, whoami, accounts,
 * apikeys, members), installable without the server. The `tessera` package adds the
 * server's commands (serve, migrate, keys) through `runCli(registerServerCommands)`.
 */
export { CliError, UsageError } from "./errors.js";
export { createProgram, runCli, type ServerCommands } from "./program.js";
