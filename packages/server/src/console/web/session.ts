/**
 * What the console knows about the visitor: the server's auth configuration, the
 * signed-in user, their accounts and the account in use (remembered in the tab).
 */
import type { GetAuthConfigResponse, UserAccount } from "@tessera/sdk/proto";
import { AccountType } from "@tessera/sdk/proto";
import { tessera } from "./client.js";

/** The sessionStorage key remembering the account in use. */
export const ACCOUNT_KEY = "tessera.console.account";

/** The signed-in user, as the console shows them. */
export interface Me {
  userId: string;
  email: string;
  name: string;
  /** An instance admin: the console shows its "Admin" pages. */
  instanceAdmin: boolean;
}

/** The console's state; pages read it, the shell and sign-in change it. */
export const session: {
  authConfig: GetAuthConfigResponse | undefined;
  me: Me | undefined;
  accounts: UserAccount[];
  account: UserAccount | undefined;
} = { authConfig: undefined, me: undefined, accounts: [], account: undefined };

/**
 * Loads the user's accounts (creating the personal one if there is none) and picks the
 * remembered account, else the personal one, else the first.
 */
export async function loadAccounts(): Promise<void> {
  session.accounts = (await tessera.userAccounts.getUserAccounts({})).accounts;
  if (session.accounts.length === 0) {
    await tessera.userAccounts.setPersonalAccount({});
    session.accounts = (await tessera.userAccounts.getUserAccounts({})).accounts;
  }
  const wanted = sessionStorage.getItem(ACCOUNT_KEY);
  session.account = session.accounts.find((a) => a.id === wanted) ?? session.accounts.find((a) => a.type === AccountType.PERSONAL) ?? session.accounts[0];
}

/** Switches to the account with this id (if the user has it) and remembers it in the tab. */
export function selectAccount(id: string): void {
  session.account = session.accounts.find((a) => a.id === id) ?? session.account;
  if (session.account) sessionStorage.setItem(ACCOUNT_KEY, session.account.id);
}
