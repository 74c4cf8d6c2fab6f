/**
 * Rows to wire messages for UserAccountService.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AccountRole, AccountType, type AccountInviteSchema, type AuditEventSchema, type UserAccountSchema } from "@tessera/sdk/proto";
import type { AccountRow, AuditEventRow, InviteRow, RoleName } from "../../store/schema.js";

const ROLE: Record<RoleName, AccountRole> = { admin: AccountRole.ADMIN, member: AccountRole.MEMBER, viewer: AccountRole.VIEWER };

/** A role to the wire enum. */
export function roleToProto(role: RoleName): AccountRole {
  return ROLE[role];
}

/** An account as seen by a caller with `role`. */
export function toUserAccount(account: AccountRow, role: RoleName): MessageInitShape<typeof UserAccountSchema> {
  return {
    id: account.id,
    name: account.name,
    type: account.kind === "personal" ? AccountType.PERSONAL : AccountType.TEAM,
    role: roleToProto(role),
    createdAt: timestampFromDate(account.created_at),
  };
}

/** An invite, never its token. */
export function toInvite(invite: InviteRow): MessageInitShape<typeof AccountInviteSchema> {
  return {
    id: invite.id,
    accountId: invite.account_id,
    email: invite.email,
    role: roleToProto(invite.role),
    createdById: invite.created_by_id ?? "",
    createdAt: timestampFromDate(invite.created_at),
    expiresAt: timestampFromDate(invite.expires_at),
    acceptedAt: invite.accepted_at ? timestampFromDate(invite.accepted_at) : undefined,
  };
}

/** An audit event. */
export function toAuditEvent(e: AuditEventRow): MessageInitShape<typeof AuditEventSchema> {
  return {
    id: e.id,
    time: timestampFromDate(e.created_at),
    actorUserId: e.actor_user_id ?? "",
    actorApiKeyId: e.actor_api_key_id ?? "",
    accountId: e.account_id ?? "",
    action: e.action,
    clientIp: e.client_ip ?? "",
    userAgent: e.user_agent ?? "",
    metadataJson: JSON.stringify(e.metadata ?? {}),
  };
}
