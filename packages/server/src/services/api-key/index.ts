/**
 * ApiKeyService: thin handlers (principal -> policy -> store -> mapper). Account
 * roles are decided by `deps.access`; the key value is returned only by create and
 * regenerate and never logged or audited.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { ApiKeyService } from "@tessera/sdk/proto";
import { isUuid } from "../../auth/policy/account-access.js";
import { apiKeyStart, generateApiKey, hashApiKey } from "../../auth/api-keys/format.js";
import type { ApiKeyAuth } from "../../auth/api-keys/verifier.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../server/request-info.js";
import {
  deleteApiKeyAndUser,
  findApiKeyById,
  insertApiKey,
  insertMachineUser,
  listApiKeysByAccount,
  lockApiKeyHash,
  updateApiKeyValue,
} from "../../store/api-keys.js";
import type { ApiKeyRow } from "../../store/schema.js";

/** Longest lifetime of a key. */
export const MAX_API_KEY_LIFETIME_DAYS = 365;
/** Longest name, in characters. */
export const MAX_API_KEY_NAME_LENGTH = 100;

const MAX_LIFETIME_MS = MAX_API_KEY_LIFETIME_DAYS * 24 * 60 * 60 * 1000;
// Control characters (C0, DEL, C1) and line/paragraph separators are refused in names.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function notFound(): ConnectError {
  return new ConnectError("api key not found", Code.NotFound);
}

/** Validates a key name: 1 to 100 characters, no control characters, not blank. */
function validName(raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0) throw invalidArgument("name is required (1 to 100 characters)");
  if (length > MAX_API_KEY_NAME_LENGTH) throw invalidArgument("name must be at most 100 characters");
  if (CONTROL_RE.test(name)) throw invalidArgument("name must not contain control characters");
  return name;
}

/** Validates an expiry: required, in the future, at most 365 days from now. */
function validExpiry(ts: Timestamp | undefined, now: Date): Date {
  if (!ts) throw invalidArgument("expires_at is required (in the future, at most 365 days from now)");
  let expiresAt: Date;
  try {
    expiresAt = timestampDate(ts);
  } catch {
    throw invalidArgument("expires_at is not a valid timestamp");
  }
  const ms = expiresAt.getTime();
  if (!Number.isFinite(ms)) throw invalidArgument("expires_at is not a valid timestamp");
  if (ms <= now.getTime()) throw invalidArgument("expires_at must be in the future");
  if (ms - now.getTime() > MAX_LIFETIME_MS) throw invalidArgument("expires_at must be at most 365 days from now");
  return expiresAt;
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

function toWire(row: ApiKeyRow) {
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
  };
}

/** Builds the ApiKeyService implementation. */
export function createApiKeyService(deps: Deps, apiKeys: ApiKeyAuth): Partial<ServiceImpl<typeof ApiKeyService>> {
  const { db, access, audit, clock } = deps;

  /** The key of an id the caller may act on; NotFound for unknown ids and foreign accounts alike. */
  async function authorizedKey(ctx: HandlerContext, id: string): Promise<ApiKeyRow> {
    const key = isUuid(id) ? await findApiKeyById(db.kysely, id) : undefined;
    if (!key) {
      // Same path as a foreign key: the principal-level checks still run first.
      requirePrincipal(ctx);
      throw notFound();
    }
    await access.authorize(ctx, key.account_id, { viaResource: true, resourceName: "api key" });
    return key;
  }

  function auditEntry(ctx: HandlerContext, action: string, row: ApiKeyRow) {
    const p = requirePrincipal(ctx);
    audit.record({
      action,
      actorUserId: p.userId,
      actorApiKeyId: p.kind === "api_key" ? p.apiKeyId : undefined,
      accountId: row.account_id,
      request: ctx.values.get(requestInfoKey),
      metadata: { api_key_id: row.id, name: row.name },
    });
  }

  return {
    async createAccountApiKey(req, ctx) {
      await access.authorize(ctx, req.accountId);
      const name = validName(req.name);
      const now = clock();
      const expiresAt = validExpiry(req.expiresAt, now);
      const actor = requirePrincipal(ctx).userId;
      const keyValue = generateApiKey();
      let row: ApiKeyRow;
      try {
        row = await db.kysely.transaction().execute(async (trx) => {
          const userId = await insertMachineUser(trx, `api key: ${name}`);
          return insertApiKey(trx, {
            account_id: req.accountId,
            name,
            key_hash: hashApiKey(keyValue),
            start: apiKeyStart(keyValue),
            user_id: userId,
            created_by_id: isUuid(actor) ? actor : null,
            expires_at: expiresAt,
            now,
          });
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConnectError(`an api key named "${name}" already exists in this account`, Code.AlreadyExists);
        throw e;
      }
      auditEntry(ctx, "apikey.create.success", row);
      // The response carries the key: never cached (RFC 9111).
      ctx.responseHeader.set("cache-control", "no-store");
      return { apiKey: toWire(row), keyValue };
    },

    async getAccountApiKeys(req, ctx) {
      await access.authorize(ctx, req.accountId);
      const rows = await listApiKeysByAccount(db.kysely, req.accountId);
      return { apiKeys: rows.map(toWire) };
    },

    async getAccountApiKey(req, ctx) {
      const key = await authorizedKey(ctx, req.id);
      return { apiKey: toWire(key) };
    },

    async regenerateAccountApiKey(req, ctx) {
      const key = await authorizedKey(ctx, req.id);
      const now = clock();
      const expiresAt = validExpiry(req.expiresAt, now);
      const actor = requirePrincipal(ctx).userId;
      const keyValue = generateApiKey();
      const row = await db.kysely.transaction().execute(async (trx) => {
        // The row is re-read under a lock so the hash being revoked is the current one.
        const oldHash = await lockApiKeyHash(trx, key.id);
        if (oldHash === undefined) return undefined;
        const updated = await updateApiKeyValue(trx, key.id, {
          key_hash: hashApiKey(keyValue),
          start: apiKeyStart(keyValue),
          expires_at: expiresAt,
          updated_by_id: isUuid(actor) ? actor : null,
          now,
        });
        return updated && { updated, oldHash };
      });
      if (!row) throw notFound();
      await apiKeys.revoke([row.oldHash]);
      auditEntry(ctx, "apikey.regenerate.success", row.updated);
      // The response carries the key: never cached (RFC 9111).
      ctx.responseHeader.set("cache-control", "no-store");
      return { apiKey: toWire(row.updated), keyValue };
    },

    async deleteAccountApiKey(req, ctx) {
      const key = await authorizedKey(ctx, req.id);
      const row = await db.kysely.transaction().execute((trx) => deleteApiKeyAndUser(trx, key.id));
      if (!row) throw notFound();
      await apiKeys.revoke([row.key_hash, `user:${row.user_id}`]);
      auditEntry(ctx, "apikey.delete.success", row);
      return {};
    },
  };
}
