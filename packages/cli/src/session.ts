/**
 * What every client command needs: the settings, the credentials file, an SDK client
 * authenticated with TESSERA_API_KEY or the stored tokens (refreshed through the SDK
 * and written back to the file), the output format, and the current account.
 */
import type { Command } from "commander";
import { AccountType, type UserAccount } from "@tessera/sdk/proto";
import { createTesseraClient, type TesseraClient } from "@tessera/sdk/node";
import { readClientConfig, type ClientConfig } from "./client-config.js";
import { CredentialsFile } from "./credentials-file.js";
import { CliError, explainRpcError, UsageError, type CredentialKind } from "./errors.js";
import { parseOutputFormat, type OutputFormat } from "./output.js";

/** The context of one client command. */
export interface Session {
  config: ClientConfig;
  file: CredentialsFile;
  client: TesseraClient;
  credential: CredentialKind;
  output: OutputFormat;
  /** Runs an RPC, turning its failure into one actionable line. */
  call<T>(p: Promise<T>, notFoundHint?: string): Promise<T>;
  /** The account commands act on: --account, else `accounts use`, else the only/personal account. */
  currentAccount(flag?: string): Promise<UserAccount | { id: string; name: string; type: AccountType }>;
}

/** Builds the session of a command from the environment and its (global) options. */
export function openSession(cmd: Command): Session {
  const opts = cmd.optsWithGlobals<{ output?: string }>();
  const output = parseOutputFormat(opts.output);
  const config = readClientConfig();
  const file = new CredentialsFile(config.configDir);
  const tokenStore = file.tokenStore(config.apiUrl);
  const hasTokens = !config.apiKey && tokenStore.get() !== undefined;
  const credential: CredentialKind = config.apiKey ? "api_key" : hasTokens ? "tokens" : "none";
  const client = createTesseraClient({ baseUrl: config.apiUrl, apiKey: config.apiKey, tokenStore, protocol: "connect", tls: config.tls });

  const call = async <T>(p: Promise<T>, notFoundHint?: string): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      throw explainRpcError(e, { apiUrl: config.apiUrl, credential, notFoundHint });
    }
  };

  async function currentAccount(flag?: string) {
    const { accounts } = await call(client.userAccounts.getUserAccounts({}));
    if (flag) return pickAccount(accounts, flag);
    const stored = file.get(config.apiUrl).accountId;
    if (stored && !config.apiKey) {
      const a = accounts.find((x) => x.id === stored);
      if (a) return a;
      throw new CliError(
        "the account chosen with `tessera accounts use` is gone or not yours: run `tessera accounts list` and `tessera accounts use <id|name>`",
      );
    }
    if (accounts.length === 1) return accounts[0]!;
    const personal = accounts.filter((a) => a.type === AccountType.PERSONAL);
    if (personal.length === 1) return personal[0]!;
    if (accounts.length === 0) throw new CliError("you belong to no account: ask for an invite, or create one with `tessera accounts create <name>`");
    throw new CliError("you belong to several accounts: pick one with `tessera accounts use <id|name>` or pass --account");
  }

  return { config, file, client, credential, output, call, currentAccount };
}

/** Finds an account by id or (case-insensitive) name. */
export function pickAccount(accounts: UserAccount[], idOrName: string): UserAccount {
  const byId = accounts.find((a) => a.id === idOrName);
  if (byId) return byId;
  const byName = accounts.filter((a) => a.name.toLowerCase() === idOrName.toLowerCase());
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) throw new UsageError(`several accounts are named "${idOrName}": use its id (\`tessera accounts list\`)`);
  throw new CliError(`no account "${idOrName}" among yours: see \`tessera accounts list\``);
}
