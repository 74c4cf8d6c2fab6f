/**
 * `tessera members list|invite|remove`: members and invites of the current (team) account.
 */
import type { Command } from "commander";
import { Code, ConnectError } from "@connectrpc/connect";
import { toJson } from "@bufbuild/protobuf";
import { AccountInviteSchema, AccountRole, AccountType, AccountUserSchema } from "@tessera/sdk/proto";
import { accountTypeName, roleName } from "./accounts.js";
import { CliError, UsageError } from "./errors.js";
import { formatTime, note, out, printJson, printTable } from "./output.js";
import { clientAction } from "./run.js";

const ROLES: Record<string, AccountRole> = { admin: AccountRole.ADMIN, member: AccountRole.MEMBER, viewer: AccountRole.VIEWER };
const PERSONAL = "personal accounts have no other members: create a team with `tessera accounts create <name>` (or `tessera accounts use` one)";

/** Adds the members commands. */
export function registerMembers(program: Command): void {
  const members = program
    .command("members")
    .description("members and invites of the current team account")
    .addHelpText("after", "\nThe account is the current one (`tessera accounts use`) unless --account is given.");

  members
    .command("list")
    .description("list the account's members, and its open invites (admins)")
    .option("--account <id|name>", "account (default: the current one)")
    .action(
      clientAction<{ account?: string }>(async (s, _a, opts) => {
        const account = await s.currentAccount(opts.account);
        const { users } = await s.call(s.client.userAccounts.getTeamAccountMembers({ accountId: account.id }));
        // Only admins see invites: others get an empty list, not an error.
        // Only admins see invites: for others the list is empty, not an error.
        const invites = await s.call(
          s.client.userAccounts.getTeamAccountInvites({ accountId: account.id }).then(
            (r) => r.invites,
            (e: unknown) => {
              if (ConnectError.from(e).code === Code.PermissionDenied) return [];
              throw e;
            },
          ),
        );
        if (s.output === "json") {
          printJson({
            accountId: account.id,
            members: users.map((u) => toJson(AccountUserSchema, u)),
            invites: invites.map((i) => toJson(AccountInviteSchema, i)),
          });
          return;
        }
        out(`Members of ${account.name} (${accountTypeName(account.type)}):`);
        printTable(
          ["user id", "name", "email", "role"],
          users.map((u) => [u.id, u.name || "-", u.email || "-", roleName(u.role)]),
        );
        if (invites.length > 0) {
          out("");
          out("Open invites:");
          printTable(
            ["invite id", "email", "role", "expires"],
            invites.map((i) => [i.id, i.email, roleName(i.role), formatTime(i.expiresAt)]),
          );
        }
      }),
    );

  members
    .command("invite")
    .description("invite an email to the team account (admins); prints the invite token to send to them")
    .argument("<email>", "who to invite")
    .option("--role <role>", "admin, member or viewer", "member")
    .option("--account <id|name>", "account (default: the current one)")
    .action(
      clientAction<{ role: string; account?: string }>(async (s, [email], opts) => {
        const role = ROLES[opts.role.toLowerCase()];
        if (!role) throw new UsageError(`--role must be admin, member or viewer, not ${JSON.stringify(opts.role.slice(0, 20))}`);
        const account = await s.currentAccount(opts.account);
        if (account.type === AccountType.PERSONAL) throw new CliError(PERSONAL);
        const res = await s.call(s.client.userAccounts.inviteUserToTeamAccount({ accountId: account.id, email: email!, role }));
        if (s.output === "json") {
          printJson({ invite: res.invite ? toJson(AccountInviteSchema, res.invite) : null, token: res.token });
          return;
        }
        note(`invited ${res.invite?.email} to ${account.name} as ${roleName(res.invite?.role ?? role)}, valid until ${formatTime(res.invite?.expiresAt)}.`);
        note("Send them this invite token (shown only now); they join with `tessera accounts join <token>` or in the console:");
        out(res.token);
      }),
    );

  members
    .command("remove")
    .description("remove a member from the team account (admins; not the last admin)")
    .argument("<user-id>", "the member's user id (`tessera members list`)")
    .option("--account <id|name>", "account (default: the current one)")
    .action(
      clientAction<{ account?: string }>(async (s, [userId], opts) => {
        const account = await s.currentAccount(opts.account);
        if (account.type === AccountType.PERSONAL) throw new CliError(PERSONAL);
        await s.call(
          s.client.userAccounts.removeTeamAccountMember({ accountId: account.id, userId: userId! }),
          "check the user id with `tessera members list`",
        );
        if (s.output === "json") printJson({ removed: userId, accountId: account.id });
        else note(`removed ${userId} from ${account.name}`);
      }),
    );
}
