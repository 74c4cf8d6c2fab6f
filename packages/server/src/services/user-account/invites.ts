/**
 * UserAccountService handlers about invites: InviteUserToTeamAccount,
 * GetTeamAccountInvites, RemoveTeamAccountInvite, AcceptTeamAccountInvite.
 * Tokens are 256 random bits, returned once, stored as SHA-256.
 */
import { createHash, randomBytes } from "node:crypto";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { UserAccountService } from "@tessera/sdk/proto";
import { permissionDenied } from "../../auth/request/interceptor.js";
import { findAccountById, lockAccount } from "../../store/accounts.js";
import {
  deleteOpenInvite,
  expireOpenInvites,
  findInviteById,
  findInviteByTokenHash,
  insertInvite,
  listOpenInvites,
  markInviteAccepted,
} from "../../store/invites.js";
import { findRole, insertMembershipIfAbsent } from "../../store/memberships.js";
import { audit, checkInviteEmail, principalOf, type HandlerDeps } from "./context.js";
import { requireEmail, requireInviteToken, requireUuid, roleFromProto } from "./input.js";
import { toInvite, toUserAccount } from "./mappers.js";

type Handlers = Pick<
  ServiceImpl<typeof UserAccountService>,
  "inviteUserToTeamAccount" | "getTeamAccountInvites" | "removeTeamAccountInvite" | "acceptTeamAccountInvite"
>;

/** How long an invite can be accepted. */
const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const TOKEN_PREFIX = "tsi_";

function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Builds the invite handlers. */
export function inviteHandlers(deps: HandlerDeps): Handlers {
  const db = deps.db.kysely;

  return {
    async inviteUserToTeamAccount(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      const email = requireEmail(req.email);
      const role = roleFromProto(req.role, "member");
      await deps.access.authorize(ctx, accountId);
      const p = principalOf(ctx);
      const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
      const now = deps.clock();
      const invite = await db.transaction().execute(async (trx) => {
        // Serialises invites of one account so re-inviting an email leaves one open invite.
        const account = await lockAccount(trx, accountId);
        if (!account) throw permissionDenied("not a member of this account");
        if (account.kind === "personal") throw new ConnectError("personal accounts have no other members", Code.FailedPrecondition);
        await expireOpenInvites(trx, accountId, email.normalized, now);
        return insertInvite(trx, {
          accountId,
          email: email.display,
          emailNormalized: email.normalized,
          role,
          tokenHash: hashToken(token),
          createdById: p.userId,
          expiresAt: new Date(now.getTime() + INVITE_TTL_MS),
        });
      });
      audit(deps, ctx, { action: "invite.create.success", accountId, metadata: { invite_id: invite.id, email: email.normalized, role } });
      // The response carries the invite secret: never cached.
      ctx.responseHeader.set("cache-control", "no-store");
      return { invite: toInvite(invite), token };
    },

    async getTeamAccountInvites(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      await deps.access.authorize(ctx, accountId);
      const rows = await listOpenInvites(db, accountId, deps.clock());
      return { invites: rows.map(toInvite) };
    },

    async removeTeamAccountInvite(req, ctx) {
      const id = requireUuid(req.id, "id");
      const invite = await findInviteById(db, id);
      if (!invite) throw new ConnectError("invite not found", Code.NotFound);
      await deps.access.authorize(ctx, invite.account_id, { viaResource: true, resourceName: "invite" });
      if (!(await deleteOpenInvite(db, id, invite.account_id))) {
        throw new ConnectError("invite was already accepted", Code.FailedPrecondition);
      }
      audit(deps, ctx, { action: "invite.remove.success", accountId: invite.account_id, metadata: { invite_id: id } });
      return {};
    },

    async acceptTeamAccountInvite(req, ctx) {
      const token = requireInviteToken(req.token);
      const p = principalOf(ctx);
      const invite = await findInviteByTokenHash(db, hashToken(token));
      if (!invite) throw new ConnectError("invite not found", Code.NotFound);
      const fail = (reason: string) =>
        audit(deps, ctx, { action: "invite.accept.failure", accountId: invite.account_id, metadata: { invite_id: invite.id, reason } });

      // AUTH_MODE=none has one user and no emails: the anonymous user may accept any invite.
      if (p.kind !== "anonymous") {
        const verdict = await checkInviteEmail(deps, ctx, p, invite.email_normalized);
        if (verdict === "unverified") {
          // The address matches, but the provider has not said it verified it (finding 9).
          fail("email_unverified");
          throw permissionDenied("this invite needs an email address your provider has verified (email_verified); verify it there and sign in again");
        }
        if (verdict === "unverified_link") {
          // A password user who has not followed the verification link (issue 18).
          fail("email_unverified");
          throw permissionDenied("this invite needs a verified email address: follow the link we mailed you (or ask for a new one) and try again");
        }
        if (verdict !== "ok") {
          fail("email_mismatch");
          throw permissionDenied("this invite was sent to another email address");
        }
      }
      const now = deps.clock();
      const accepted = await db.transaction().execute(async (trx) => {
        const row = await markInviteAccepted(trx, invite.id, p.userId, now);
        if (!row) return undefined;
        const added = await insertMembershipIfAbsent(trx, row.account_id, p.userId, row.role);
        return { row, added };
      });
      if (accepted) {
        audit(deps, ctx, {
          action: "invite.accept.success",
          accountId: invite.account_id,
          metadata: { invite_id: invite.id, role: invite.role, joined: accepted.added },
        });
      } else {
        const current = await findInviteById(db, invite.id);
        if (!current) throw new ConnectError("invite not found", Code.NotFound);
        if (current.accepted_at !== null && current.accepted_by_id !== p.userId) {
          fail("already_used");
          throw new ConnectError("this invite was already used", Code.InvalidArgument);
        }
        if (current.accepted_at === null) {
          fail("expired");
          throw permissionDenied("this invite has expired");
        }
        // Accepted before by the caller: accepting again changes nothing.
      }
      const account = await findAccountById(db, invite.account_id);
      const role = await findRole(db, invite.account_id, p.userId);
      if (!account || !role) throw new ConnectError("invite not found", Code.NotFound);
      return { account: toUserAccount(account, role) };
    },
  };
}
