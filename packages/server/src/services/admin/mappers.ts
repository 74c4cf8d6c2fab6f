/**
 * AdminService wire mapping: users, identities, sessions (never a token) and keys with
 * their account.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AdminApiKeySchema, AdminUserSchema, IdentitySchema, SessionSchema } from "@tessera/sdk/proto";
import type { KeyUsage } from "../../abuse/key-limits.js";
import type { AdminApiKeyRow } from "../../store/admin-api-keys.js";
import type { AdminUserRow } from "../../store/admin-users.js";
import type { IdentityRow, RefreshFamilyRow } from "../../store/schema.js";
import { toWire } from "../api-key/mappers.js";
import { sessionEnd } from "../auth/sessions.js";

/** A user as an instance admin sees it. */
export function toAdminUser(u: AdminUserRow): MessageInitShape<typeof AdminUserSchema> {
  return {
    id: u.id,
    email: u.email ?? "",
    name: u.name ?? "",
    disabled: u.disabled_at !== null,
    disabledAt: u.disabled_at ? timestampFromDate(new Date(u.disabled_at)) : undefined,
    instanceAdmin: u.is_instance_admin,
    emailVerified: u.email_verified,
    createdAt: timestampFromDate(new Date(u.created_at)),
    lastSignInAt: u.last_sign_in_at ? timestampFromDate(new Date(u.last_sign_in_at)) : undefined,
    hasPassword: u.has_password,
  };
}

/** An identity, with its configured provider when one has its issuer. */
export function toIdentity(r: IdentityRow, provider: { id: string; name: string } | undefined): MessageInitShape<typeof IdentitySchema> {
  return {
    id: r.id,
    providerId: provider?.id ?? "",
    providerName: provider?.name ?? "",
    issuer: r.issuer,
    subject: r.subject,
    email: r.email ?? "",
    emailVerified: r.email_verified,
    createdAt: timestampFromDate(r.created_at),
  };
}

/** A session of another user (so never `current`), ending at the earlier of its two ends. */
export function toSession(f: RefreshFamilyRow, idleTimeoutSeconds: number): MessageInitShape<typeof SessionSchema> {
  return {
    id: f.id,
    createdAt: timestampFromDate(f.created_at),
    lastUsedAt: timestampFromDate(f.last_used_at),
    clientIp: f.client_ip ?? "",
    userAgent: f.user_agent ?? "",
    current: false,
    expiresAt: timestampFromDate(sessionEnd(f, idleTimeoutSeconds)),
  };
}

/** A key with its account's name and its creator's email. */
export function toAdminApiKey(row: AdminApiKeyRow, usage: KeyUsage | undefined, now: Date): MessageInitShape<typeof AdminApiKeySchema> {
  const { account_name, created_by_email, cursor_ts: _, ...key } = row;
  return { apiKey: toWire(key, usage, now, created_by_email ?? undefined), accountName: account_name };
}
