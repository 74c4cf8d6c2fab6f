#!/usr/bin/env node
// The `tessera` command of the server package: the client commands of @tessera/cli plus
// serve, migrate and keys. Plain JavaScript built at pack time: no TypeScript loader,
// no bundler and no writes to the install directory at run time.
import { runCli } from "@tessera/cli";
import { registerServerCommands } from "../dist/commands/index.js";

runCli(registerServerCommands);
