/**
 * ApiKeyService wire mapping: a key row as `tessera.v1.AccountApiKey` (never its hash),
 * with its usage when it has limits.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { KeyUsage } from "../../abuse/key-limits.js";
import type { ApiKeyRow } from "../../store/schema.js";

/**
 * A key row as the wire message; `usage` only for keys with limits; an old value only
 * while it is valid at `now`; `createdByEmail` when the caller may see it.
 */
export function toWire(row: ApiKeyRow, usage: KeyUsage | undefined, now: Date, createdByEmail?: string) {
  const oldUntil = row.previous_expires_at ? new Date(row.previous_expires_at) : undefined;
  const oldValid = oldUntil !== undefined && oldUntil.getTime() > now.getTime();
  return {
    id: row.id,
    name: row.name,
    accountId: row.account_id,
    start: row.start,
    userId: row.user_id,
    createdAt: timestampFromDate(new Date(row.created_at)),
    createdById: row.created_by_id ?? "",
    updatedAt: timestampFromDate(new Date(row.updated_at)),
    updatedById: row.updated_by_id ?? "",
    expiresAt: timestampFromDate(new Date(row.expires_at)),
    lastUsedAt: row.last_used_at ? timestampFromDate(new Date(row.last_used_at)) : undefined,
    scopes: row.scopes,
    rateLimits: row.rate_limits.map((l) => ({ limit: l.limit, windowSeconds: l.window_seconds })),
    budget: row.budget
      ? { uses: BigInt(row.budget.uses), refillAmount: BigInt(row.budget.refill_amount), refillIntervalSeconds: row.budget.refill_interval_seconds }
      : undefined,
    usage: usage
      ? { rateLimitUsed: usage.rateLimitUsed, budgetRemaining: usage.budgetRemaining === undefined ? undefined : BigInt(usage.budgetRemaining) }
      : undefined,
    clientCertThumbprint: row.client_cert_thumbprint ?? "",
    createdByEmail: createdByEmail ?? "",
    previousValueExpiresAt: oldValid ? timestampFromDate(oldUntil) : undefined,
    previousStart: oldValid ? (row.previous_start ?? "") : "",
    lastUsedIp: row.last_used_ip ?? "",
    lastUsedUserAgent: row.last_used_user_agent ?? "",
  };
}
