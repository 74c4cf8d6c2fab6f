/**
 * UserAccountService handlers about the caller and its accounts: GetUser, SetUser,
 * GetUserAccounts, SetPersonalAccount, CreateTeamAccount, IsUserInAccount.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { UserType, type UserAccountService } from "@tessera/sdk/proto";
import { profileOfIdentity, refreshedProfile } from "../../auth/oidc/profile.js";
import { API_KEY_ROLE } from "../../auth/policy/policy.js";
import type { Principal } from "../../auth/request/principal.js";
import {
  ensurePersonalAccountReporting,
  findAccountById,
  insertTeamAccount,
  listUserAccounts,
  lockUserForAccountCreation,
  userHasAccountNamed,
} from "../../store/accounts.js";
import type { UserRow } from "../../store/schema.js";
import { findIdentity, findUserById, updateIdentityProfile } from "../../store/users.js";
import { audit, claimString, principalOf, type HandlerDeps } from "./context.js";
import { normalizeEmail, requireUuid, teamName } from "./input.js";
import { toUserAccount } from "./mappers.js";

type Handlers = Pick<
  ServiceImpl<typeof UserAccountService>,
  "getUser" | "setUser" | "getUserAccounts" | "setPersonalAccount" | "createTeamAccount" | "isUserInAccount"
>;

/** Builds the user and account handlers. */
export function userHandlers(deps: HandlerDeps): Handlers {
  const db = deps.db.kysely;

  async function requireUser(p: Principal): Promise<UserRow> {
    const user = await findUserById(db, p.userId);
    // The verifier provisions every user it accepts; a missing row means it was deleted since.
    if (!user || user.disabled_at !== null) throw new ConnectError("user no longer exists", Code.Unauthenticated);
    return user;
  }

  /** Refreshes a provider user's stored profile (and email_verified) from its token's claims; true when something changed. */
  async function refreshFromClaims(p: Extract<Principal, { kind: "oidc_user" }>): Promise<boolean> {
    const identity = await findIdentity(db, p.issuer, p.subject);
    if (!identity) return false;
    const profile = refreshedProfile(profileOfIdentity(identity), p.claims);
    if (!profile) return false;
    await updateIdentityProfile(db, identity, profile, profile.email ? normalizeEmail(profile.email) : null);
    return true;
  }

  return {
    async getUser(_req, ctx) {
      const p = principalOf(ctx);
      const user = await requireUser(p);
      let email = user.email ?? "";
      let name = user.name ?? "";
      if (p.kind === "oidc_user") {
        email = claimString(p.claims, "email") ?? email;
        name = claimString(p.claims, "name") ?? name;
      }
      return {
        userId: user.id,
        userType: user.kind === "machine" ? UserType.MACHINE : UserType.HUMAN,
        email,
        name,
        instanceAdmin: user.is_instance_admin && p.kind !== "api_key",
      };
    },

    async setUser(_req, ctx) {
      const p = principalOf(ctx);
      const user = await requireUser(p);
      if (p.kind === "oidc_user" && (await refreshFromClaims(p))) {
        audit(deps, ctx, { action: "user.update.success", metadata: { source: "claims" } });
      }
      return { userId: user.id };
    },

    async getUserAccounts(_req, ctx) {
      const p = principalOf(ctx);
      if (p.kind === "api_key") {
        const account = await findAccountById(db, p.accountId);
        return { accounts: account ? [toUserAccount(account, API_KEY_ROLE)] : [] };
      }
      const rows = await listUserAccounts(db, p.userId);
      return { accounts: rows.map((r) => toUserAccount(r, r.role)) };
    },

    async setPersonalAccount(_req, ctx) {
      const p = principalOf(ctx);
      await requireUser(p);
      const { account, created } = await ensurePersonalAccountReporting(db, p.userId);
      if (created) audit(deps, ctx, { action: "account.create.success", accountId: account.id, metadata: { kind: "personal" } });
      return { account: toUserAccount(account, "admin") };
    },

    async createTeamAccount(req, ctx) {
      const p = principalOf(ctx);
      const name = teamName(req.name);
      const account = await db.transaction().execute(async (trx) => {
        if (!(await lockUserForAccountCreation(trx, p.userId))) throw new ConnectError("user no longer exists", Code.Unauthenticated);
        if (await userHasAccountNamed(trx, p.userId, name)) return undefined;
        return insertTeamAccount(trx, name, p.userId);
      });
      if (!account) {
        audit(deps, ctx, { action: "account.create.failure", metadata: { kind: "team", reason: "duplicate_name" } });
        throw new ConnectError("you already have an account with this name", Code.AlreadyExists);
      }
      audit(deps, ctx, { action: "account.create.success", accountId: account.id, metadata: { kind: "team" } });
      return { account: toUserAccount(account, "admin") };
    },

    async isUserInAccount(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      const role = await deps.access.roleOf(principalOf(ctx), accountId);
      return { ok: role !== undefined };
    },
  };
}
