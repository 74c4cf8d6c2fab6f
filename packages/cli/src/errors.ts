/**
 * CLI errors and exit codes: 0 ok, 1 a call failed, 2 usage. Every error is one line
 * that names what to do next.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** A failure the user can act on; `exitCode` 1 (failed call) unless said otherwise. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** Wrong arguments or settings (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** What the CLI authenticated with, to explain an Unauthenticated answer. */
export type CredentialKind = "api_key" | "tokens" | "none";

/** Context for turning an RPC error into one actionable line. */
export interface ErrorContext {
  apiUrl: string;
  credential: CredentialKind;
  /** Hint for NotFound, e.g. "list them with `tessera apikeys list`". */
  notFoundHint?: string;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** Turns any error thrown by an RPC into a CliError with a one-line, actionable message. */
export function explainRpcError(e: unknown, ctx: ErrorContext): CliError {
  if (e instanceof CliError) return e;
  const ce = ConnectError.from(e);
  const msg = oneLine(ce.rawMessage);
  switch (ce.code) {
    case Code.Unauthenticated:
      if (ctx.credential === "api_key") return new CliError(`the API key was rejected (${msg}): check TESSERA_API_KEY, or unset it and run \`tessera login\``);
      if (ctx.credential === "tokens") return new CliError(`your session has ended (${msg}): run \`tessera login\``);
      return new CliError("not logged in: run `tessera login`");
    case Code.PermissionDenied:
      if (ctx.credential === "api_key" && /api key/i.test(msg)) {
        return new CliError(`this needs a login, not an API key (server: ${msg}): unset TESSERA_API_KEY and run \`tessera login\``);
      }
      return new CliError(`permission denied (${msg}): ask an admin of the account, or pick another with \`tessera accounts use\``);
    case Code.NotFound:
      return new CliError(`${msg}${ctx.notFoundHint ? `: ${ctx.notFoundHint}` : ""}`);
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return new CliError(`cannot reach Tessera at ${ctx.apiUrl} (${msg}): start the server or set TESSERA_API_URL`);
    case Code.Unimplemented:
      return new CliError(`${ctx.apiUrl} does not look like a Tessera server (${msg}): check TESSERA_API_URL`);
    case Code.ResourceExhausted:
      return new CliError(`too many requests (${msg}): wait a minute and try again`);
    case Code.InvalidArgument:
    case Code.AlreadyExists:
    case Code.FailedPrecondition:
      return new CliError(`${msg}`);
    default:
      return new CliError(`${Code[ce.code] ?? ce.code}: ${msg}`);
  }
}
