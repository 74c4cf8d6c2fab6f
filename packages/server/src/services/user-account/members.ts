/**
 * UserAccountService handlers about members and roles: GetTeamAccountMembers,
 * RemoveTeamAccountMember, SetUserRole. Changes lock the account and its memberships
 * (`FOR UPDATE`) in one transaction, so concurrent changes cannot leave an account
 * without an admin.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AccountUserSchema, UserAccountService } from "@tessera/sdk/proto";
import { permissionDenied } from "../../auth/request/interceptor.js";
import { lockAccount } from "../../store/accounts.js";
import { deleteMembership, listMembers, lockMemberships, updateRole, type MemberRow } from "../../store/memberships.js";
import type { IdentityRow, RoleName } from "../../store/schema.js";
import { findIdentitiesByUserIds } from "../../store/users.js";
import { audit, principalOf, type HandlerDeps } from "./context.js";
import { requireUuid, roleFromProto } from "./input.js";
import { roleToProto } from "./mappers.js";

type Handlers = Pick<ServiceImpl<typeof UserAccountService>, "getTeamAccountMembers" | "removeTeamAccountMember" | "setUserRole">;

/** Most admin API lookups in flight at once for one listing. */
const LOOKUP_CONCURRENCY = 8;

type Change = { kind: "remove" } | { kind: "role"; role: RoleName };

/** Builds the member handlers. */
export function memberHandlers(deps: HandlerDeps): Handlers {
  const db = deps.db.kysely;

  /** A member's profile: password users from Tessera's tables, provider users from the admin API or their stored claims. */
  async function profileOf(m: MemberRow, identity: IdentityRow | undefined): Promise<MessageInitShape<typeof AccountUserSchema>> {
    const base = { id: m.user_id, role: roleToProto(m.role), name: m.name ?? "", email: m.email ?? "", image: m.image ?? "" };
    if (m.has_password || !identity) return base;
    const stored = { ...base, name: identity.name ?? base.name, email: identity.email ?? base.email, image: identity.image ?? base.image };
    if (!deps.adminApi) return stored;
    try {
      const remote = await deps.adminApi.getUser(identity.subject);
      if (!remote) return stored;
      return { ...stored, name: remote.name ?? stored.name, email: remote.email ?? stored.email, image: remote.picture ?? stored.image };
    } catch (e) {
      deps.logger.warn({ err: { message: (e as Error).message }, provider: deps.config.adminApi?.provider }, "admin API lookup failed; using stored claims");
      return stored;
    }
  }

  /** Applies a member change under the account's lock; throws the right ConnectError. */
  async function change(ctx: HandlerContext, accountId: string, userId: string, c: Change): Promise<{ from: RoleName; changed: boolean }> {
    const caller = principalOf(ctx);
    return db.transaction().execute(async (trx) => {
      const account = await lockAccount(trx, accountId);
      if (!account) throw permissionDenied("not a member of this account");
      if (account.kind === "personal") throw new ConnectError("personal accounts have no other members", Code.FailedPrecondition);
      const members = await lockMemberships(trx, accountId);
      // Re-check the caller under the lock: a concurrent change may have demoted it.
      deps.access.authorizeRole(ctx, members.find((m) => m.user_id === caller.userId)?.role);
      const target = members.find((m) => m.user_id === userId);
      if (!target) throw new ConnectError("member not found", Code.NotFound);
      const losesAdmin = target.role === "admin" && (c.kind === "remove" || c.role !== "admin");
      if (losesAdmin && members.filter((m) => m.role === "admin").length <= 1) {
        throw new ConnectError("the last admin of an account cannot be removed or demoted", Code.FailedPrecondition);
      }
      if (c.kind === "remove") {
        await deleteMembership(trx, accountId, userId);
        return { from: target.role, changed: true };
      }
      if (c.role === target.role) return { from: target.role, changed: false };
      await updateRole(trx, accountId, userId, c.role);
      return { from: target.role, changed: true };
    });
  }

  function failure(ctx: HandlerContext, action: string, accountId: string, userId: string, e: unknown): never {
    const ce = ConnectError.from(e);
    if (ce.code === Code.FailedPrecondition) {
      audit(deps, ctx, { action, accountId, metadata: { user_id: userId, reason: ce.rawMessage.slice(0, 100) } });
    }
    throw e;
  }

  return {
    async getTeamAccountMembers(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      await deps.access.authorize(ctx, accountId);
      const members = await listMembers(db, accountId);
      const identities = await findIdentitiesByUserIds(
        db,
        members.filter((m) => !m.has_password).map((m) => m.user_id),
      );
      const byUser = new Map<string, IdentityRow>();
      for (const i of identities) if (!byUser.has(i.user_id)) byUser.set(i.user_id, i);
      const users: Array<MessageInitShape<typeof AccountUserSchema>> = [];
      for (let i = 0; i < members.length; i += LOOKUP_CONCURRENCY) {
        const batch = members.slice(i, i + LOOKUP_CONCURRENCY);
        users.push(...(await Promise.all(batch.map((m) => profileOf(m, byUser.get(m.user_id))))));
      }
      return { users };
    },

    async removeTeamAccountMember(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      const userId = requireUuid(req.userId, "user_id");
      await deps.access.authorize(ctx, accountId);
      const r = await change(ctx, accountId, userId, { kind: "remove" }).catch((e: unknown) => failure(ctx, "member.remove.failure", accountId, userId, e));
      audit(deps, ctx, { action: "member.remove.success", accountId, metadata: { user_id: userId, role: r.from } });
      return {};
    },

    async setUserRole(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      const userId = requireUuid(req.userId, "user_id");
      const role = roleFromProto(req.role);
      await deps.access.authorize(ctx, accountId);
      const r = await change(ctx, accountId, userId, { kind: "role", role }).catch((e: unknown) =>
        failure(ctx, "member.role_change.failure", accountId, userId, e),
      );
      if (r.changed) audit(deps, ctx, { action: "member.role_change.success", accountId, metadata: { user_id: userId, from: r.from, to: role } });
      return {};
    },
  };
}
