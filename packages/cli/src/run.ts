/**
 * Runs a client command: builds its session, runs it, exits 0 on success or prints
 * the one-line error and exits with its code (1 failed call, 2 usage).
 */
import type { Command } from "commander";
import { CliError } from "./errors.js";
import { openSession, type Session } from "./session.js";

/** Ends the process after an error: one line on stderr, exit code 1 or 2. */
export function fail(e: unknown): never {
  const err = e instanceof CliError ? e : new CliError(e instanceof Error ? e.message : String(e));
  process.stderr.write(`tessera: ${err.message}\n`);
  process.exit(err.exitCode);
}

/** A commander action for a client command: `fn(session, ...positional args, options)`. */
export function clientAction<O extends object = Record<string, unknown>>(
  fn: (s: Session, args: string[], opts: O, cmd: Command) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = args[args.length - 2] as O;
    const positional = args.slice(0, -2) as string[];
    try {
      const session = openSession(cmd);
      await fn(session, positional, opts, cmd);
    } catch (e) {
      fail(e);
    }
    // Keep-alive sockets of the HTTP client must not hold the process open.
    process.exit(0);
  };
}
