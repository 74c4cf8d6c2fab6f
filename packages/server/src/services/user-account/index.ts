/**
 * UserAccountService: users, personal and team accounts, members, roles, invites and
 * the audit trail. Thin handlers (principal -> policy -> store -> mapper), grouped by
 * topic in this folder. Every account-scoped handler asks
 * `deps.access.authorize` (the policy in `auth/policy/policy.ts`); none decides alone.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { UserAccountService } from "@tessera/sdk/proto";
import { createAdminApiClient, type AdminApiClient } from "../../auth/oidc/admin-api/index.js";
import { createUserinfoClient, type UserinfoClient } from "../../auth/oidc/admin-api/userinfo.js";
import type { Deps } from "../../deps.js";
import { auditHandlers } from "./audit-events.js";
import { inviteHandlers } from "./invites.js";
import { memberHandlers } from "./members.js";
import { userHandlers } from "./users.js";

export interface UserAccountServiceOptions {
  /** The provider admin API; by default built from `config.adminApi` when set. */
  adminApi?: AdminApiClient;
  /** The provider's UserInfo endpoint; by default built from `config.oidc` when set. */
  userinfo?: UserinfoClient;
}

/** Builds the UserAccountService implementation. */
export function createUserAccountService(deps: Deps, opts: UserAccountServiceOptions = {}): ServiceImpl<typeof UserAccountService> {
  const adminApi = opts.adminApi ?? (deps.config.adminApi ? createAdminApiClient(deps.config.adminApi) : undefined);
  const userinfo =
    opts.userinfo ?? (deps.config.oidc ? createUserinfoClient({ baseUrl: deps.config.oidc.baseUrl, issuer: deps.config.oidc.expectedIssuer }) : undefined);
  const handlerDeps = { ...deps, adminApi, userinfo };
  const users = userHandlers(handlerDeps);
  const members = memberHandlers(handlerDeps);
  const invites = inviteHandlers(handlerDeps);
  const audit = auditHandlers(handlerDeps);
  // Every RPC bound by name: a missing one, or one bound twice, fails to compile.
  return {
    getUser: users.getUser,
    setUser: users.setUser,
    getUserAccounts: users.getUserAccounts,
    setPersonalAccount: users.setPersonalAccount,
    createTeamAccount: users.createTeamAccount,
    isUserInAccount: users.isUserInAccount,
    getTeamAccountMembers: members.getTeamAccountMembers,
    removeTeamAccountMember: members.removeTeamAccountMember,
    inviteUserToTeamAccount: invites.inviteUserToTeamAccount,
    getTeamAccountInvites: invites.getTeamAccountInvites,
    removeTeamAccountInvite: invites.removeTeamAccountInvite,
    acceptTeamAccountInvite: invites.acceptTeamAccountInvite,
    setUserRole: members.setUserRole,
    getAccountAuditEvents: audit.getAccountAuditEvents,
  };
}
