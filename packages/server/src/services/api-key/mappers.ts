/**
 * ApiKeyService wire mapping: a key row as `tessera.v1.AccountApiKey` (never its hash).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ApiKeyRow } from "../../store/schema.js";

/** A key row as the wire message. */
export function toWire(row: ApiKeyRow) {
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
  };
}
