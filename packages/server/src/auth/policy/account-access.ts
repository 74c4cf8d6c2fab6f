/**
 * The account half of the policy. Handlers call `authorize(ctx, accountId)` with the
 * account a request touches; it reads the procedure's rule from POLICY, the caller's
 * role in that account, and either returns the role or throws:
 * - not a member, when the id names the account itself: PermissionDenied;
 * - not a member, when the account was reached through a resource id (key, invite):
 *   NotFound, exactly as for an id that does not exist (no existence leak);
 * - an API key used on another account: PermissionDenied (NotFound when reached through a resource id);
 * - a member whose role is too low: PermissionDenied.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { isUuid } from "../../lib/ids.js";
import { findRole } from "../../store/memberships.js";
import type { Database, RoleName } from "../../store/schema.js";
import { permissionDenied } from "../request/interceptor.js";
import { API_KEY_ROLE, roleAtLeast, ruleFor, type Rule } from "./policy.js";
import { requirePrincipal, type Principal } from "../request/principal.js";

interface AuthorizeOptions {
  /** The account was found through a resource id: non-members get NotFound. */
  viaResource?: boolean;
  /** What to call the resource in the NotFound message. */
  resourceName?: string;
}

export interface AccountAccess {
  /** The caller's role in the account, or undefined (API keys: their fixed role in their own account). */
  roleOf(principal: Principal, accountId: string): Promise<RoleName | undefined>;
  /** Enforces the procedure's account rule; returns the caller's role. */
  authorize(ctx: HandlerContext, accountId: string, opts?: AuthorizeOptions): Promise<RoleName>;
  /**
   * Enforces the procedure's account rule on a role the handler has just read itself
   * (under a lock, say): the same decision as `authorize`, without another query.
   */
  authorizeRole(ctx: HandlerContext, role: RoleName | undefined): RoleName;
}

function accountRule(ctx: HandlerContext): Extract<Rule, { access: "account" }> {
  const rule = ruleFor(ctx.service.typeName, ctx.method.name);
  if (rule?.access !== "account") throw new ConnectError("procedure has no account rule", Code.Internal);
  return rule;
}

function checkRole(rule: Extract<Rule, { access: "account" }>, role: RoleName | undefined, opts: AuthorizeOptions): RoleName {
  if (role === undefined) {
    if (opts.viaResource) throw new ConnectError(`${opts.resourceName ?? "resource"} not found`, Code.NotFound);
    throw permissionDenied("not a member of this account");
  }
  if (!roleAtLeast(role, rule.role)) throw permissionDenied(`role ${rule.role} or higher required`);
  return role;
}

/** Builds the account access checker. */
export function createAccountAccess(db: Kysely<Database>): AccountAccess {
  async function roleOf(principal: Principal, accountId: string): Promise<RoleName | undefined> {
    if (!isUuid(accountId)) return undefined;
    if (principal.kind === "api_key") return principal.accountId === accountId ? API_KEY_ROLE : undefined;
    return findRole(db, accountId, principal.userId);
  }
  return {
    roleOf,
    async authorize(ctx, accountId, opts = {}) {
      const rule = accountRule(ctx);
      const principal = requirePrincipal(ctx);
      if (principal.kind === "api_key" && principal.accountId !== accountId) {
        // Reached through a resource id: another account's resources do not exist for this key.
        if (opts.viaResource) throw new ConnectError(`${opts.resourceName ?? "resource"} not found`, Code.NotFound);
        throw permissionDenied("API key is not valid for this account");
      }
      if (!opts.viaResource && !isUuid(accountId)) throw new ConnectError("account_id must be a UUID", Code.InvalidArgument);
      return checkRole(rule, await roleOf(principal, accountId), opts);
    },
    authorizeRole(ctx, role) {
      return checkRole(accountRule(ctx), role, {});
    },
  };
}
