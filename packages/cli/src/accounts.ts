/**
 * `tessera accounts list|use|create`.
 */
import type { Command } from "commander";
import { toJson } from "@bufbuild/protobuf";
import { AccountRole, AccountType, UserAccountSchema } from "@tessera/sdk/proto";
import { note, out, printJson, printTable } from "./output.js";
import { clientAction } from "./run.js";
import { pickAccount } from "./session.js";

/** "team", "personal", ... */
export function accountTypeName(t: AccountType): string {
  return t === AccountType.PERSONAL ? "personal" : t === AccountType.TEAM ? "team" : "-";
}

/** "admin", "member", "viewer". */
export function roleName(r: AccountRole): string {
  return r === AccountRole.ADMIN ? "admin" : r === AccountRole.MEMBER ? "member" : r === AccountRole.VIEWER ? "viewer" : "-";
}

/** Adds the accounts commands. */
export function registerAccounts(program: Command): void {
  const accounts = program.command("accounts").description("list your accounts and pick the one other commands act on");

  accounts
    .command("list")
    .description("list your accounts and your role in each (* marks the current one)")
    .action(
      clientAction(async (s) => {
        const { accounts: list } = await s.call(s.client.userAccounts.getUserAccounts({}));
        const current = await s.currentAccount().then(
          (a) => a.id,
          () => "",
        );
        if (s.output === "json") {
          printJson(list.map((a) => ({ ...(toJson(UserAccountSchema, a) as object), current: a.id === current })));
          return;
        }
        if (list.length === 0) return out("no accounts (create one: tessera accounts create <name>)");
        printTable(
          ["", "id", "name", "type", "role"],
          list.map((a) => [a.id === current ? "*" : "", a.id, a.name, accountTypeName(a.type), roleName(a.role)]),
        );
      }),
    );

  accounts
    .command("use")
    .description("make an account the current one (by id or name)")
    .argument("<id|name>", "account id or name")
    .action(
      clientAction(async (s, [idOrName]) => {
        const { accounts: list } = await s.call(s.client.userAccounts.getUserAccounts({}));
        const a = pickAccount(list, idOrName!);
        s.file.update(s.config.apiUrl, { accountId: a.id });
        if (s.output === "json") printJson(toJson(UserAccountSchema, a));
        else note(`now using account ${a.name} (${a.id})`);
        if (s.config.apiKey) note("note: with TESSERA_API_KEY set, commands use the key's own account");
      }),
    );

  accounts
    .command("join")
    .description("accept an invite to a team account (the invite's email must be yours)")
    .argument("<token>", "the invite token (tsi_...) an admin sent you")
    .action(
      clientAction(async (s, [token]) => {
        const { account } = await s.call(s.client.userAccounts.acceptTeamAccountInvite({ token: token! }), "ask the admin for a new invite");
        if (!account) return;
        if (s.output === "json") printJson(toJson(UserAccountSchema, account));
        else note(`joined ${account.name} (${account.id}) as ${roleName(account.role)}; switch to it with \`tessera accounts use ${account.id}\``);
      }),
    );

  accounts
    .command("create")
    .description("create a team account with you as its admin, and make it current")
    .argument("<name>", "1 to 100 characters")
    .action(
      clientAction(async (s, [name]) => {
        const { account } = await s.call(s.client.userAccounts.createTeamAccount({ name: name! }));
        if (!account) return;
        s.file.update(s.config.apiUrl, { accountId: account.id });
        if (s.output === "json") printJson(toJson(UserAccountSchema, account));
        else note(`created team account ${account.name} (${account.id}); it is now the current account`);
      }),
    );
}
