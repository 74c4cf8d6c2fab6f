/**
 * ApiKeyService handlers: thin (principal -> policy -> store -> mapper). Account
 * roles are decided by `deps.access`; the key value is returned only by create and
 * regenerate and never logged or audited.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { ApiKeyService } from "@tessera/sdk/proto";
import { isUuid } from "../../lib/ids.js";
import { apiKeyStart, generateApiKey, hashApiKey } from "../../auth/api-keys/format.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import { createScopeGrants } from "../../auth/policy/scope-grants.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { findApiKeyById, insertApiKey, insertMachineUser, listApiKeysByAccount } from "../../store/api-keys.js";
import { findCreatorEmails } from "../../store/admin-api-keys.js";
import { clearOldApiKeyValue } from "../../store/api-key-old-values.js";
import { insertRevocations } from "../../store/revocation-log.js";
import { isApiKeyMadeByInstanceAdmin, isInstanceAdmin } from "../../store/users.js";
import type { ApiKeyRow, RoleName } from "../../store/schema.js";
import type { KeyLimiter } from "../../abuse/key-limits.js";
import { limitsOf } from "../../auth/api-keys/limits.js";
import { validBinding, validExpiry, validLimits, validName, validOverlap } from "./input.js";
import { toWire } from "./mappers.js";
import { rotateKeyValue } from "./rotation.js";
import { auditApiKey, revokeApiKey } from "./revoke.js";

function notFound(): ConnectError {
  return new ConnectError("api key not found", Code.NotFound);
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

/** Builds the ApiKeyService implementation. */
export function createApiKeyService(
  deps: Deps,
  revocations: Pick<RevocationLog, "published">,
  limiter: Pick<KeyLimiter, "usage">,
): ServiceImpl<typeof ApiKeyService> {
  const { db, access, clock } = deps;
  const grants = createScopeGrants(deps.config.apiKeyExtraScopes);

  /** The key of an id the caller may act on, and the caller's role in its account; NotFound for unknown ids and foreign accounts alike. */
  async function authorizedKey(ctx: HandlerContext, id: string): Promise<{ key: ApiKeyRow; role: RoleName }> {
    const key = isUuid(id) ? await findApiKeyById(db.kysely, id) : undefined;
    if (!key) {
      // Same path as a foreign key: the principal-level checks still run first.
      requirePrincipal(ctx);
      throw notFound();
    }
    const role = await access.authorize(ctx, key.account_id, { viaResource: true, resourceName: "api key" });
    return { key, role };
  }

  /** A key as the wire message, with its usage when it has limits and its creator's email when given. */
  async function withUsage(row: ApiKeyRow, emails?: ReadonlyMap<string, string>) {
    const limits = limitsOf(row);
    const email = row.created_by_id ? emails?.get(row.created_by_id) : undefined;
    return toWire(row, limits ? await limiter.usage(row.id, limits) : undefined, clock(), email);
  }

  /**
   * The creators' emails the caller may see: every one for the account's admins, only
   * those of current members for viewers and members (GetTeamAccountMembers lists them).
   */
  function creatorEmails(rows: readonly ApiKeyRow[], accountId: string, role: RoleName) {
    const ids = rows.flatMap((r) => (r.created_by_id ? [r.created_by_id] : []));
    return findCreatorEmails(db.kysely, ids, role === "admin" ? undefined : accountId);
  }

  function auditEntry(ctx: HandlerContext, action: string, row: ApiKeyRow, extra: Record<string, string | number> = {}) {
    auditApiKey(deps, ctx, action, row, extra);
  }

  return {
    async createAccountApiKey(req, ctx) {
      const role = await access.authorize(ctx, req.accountId);
      const name = validName(req.name);
      const now = clock();
      const expiresAt = validExpiry(req.expiresAt, now);
      const actor = requirePrincipal(ctx).userId;
      // Known scopes only, and never more than the creator may do (scope-grants.ts).
      const scopes = await grants.check(req.scopes, { role, isInstanceAdmin: () => isInstanceAdmin(db.kysely, actor) });
      const limits = validLimits(req.rateLimits, req.budget);
      const boundTo = validBinding(req.clientCertThumbprint, req.bindToClientCert, ctx.values.get(requestInfoKey).clientCert?.thumbprint);
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
            scopes,
            rate_limits: limits.rate_limits,
            budget: limits.budget,
            client_cert_thumbprint: boundTo,
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
      return { apiKey: await withUsage(row), keyValue };
    },

    async getAccountApiKeys(req, ctx) {
      const role = await access.authorize(ctx, req.accountId);
      const rows = await listApiKeysByAccount(db.kysely, req.accountId);
      const emails = await creatorEmails(rows, req.accountId, role);
      return { apiKeys: await Promise.all(rows.map((r) => withUsage(r, emails))) };
    },

    async getAccountApiKey(req, ctx) {
      const { key, role } = await authorizedKey(ctx, req.id);
      return { apiKey: await withUsage(key, await creatorEmails([key], key.account_id, role)) };
    },

    async regenerateAccountApiKey(req, ctx) {
      const { key, role } = await authorizedKey(ctx, req.id);
      const now = clock();
      const expiresAt = validExpiry(req.expiresAt, now);
      const actor = requirePrincipal(ctx).userId;
      // The new value goes to the caller: it must be a key the caller could create now
      // (its scopes within the caller's role), and an instance admin's key stays theirs.
      const callerIsInstanceAdmin = () => isInstanceAdmin(db.kysely, actor);
      await grants.check(key.scopes, { role, isInstanceAdmin: callerIsInstanceAdmin });
      if (key.created_by_id !== actor && (await isApiKeyMadeByInstanceAdmin(db.kysely, key.id)) && !(await callerIsInstanceAdmin())) {
        throw new ConnectError("only an instance admin may regenerate a key an instance admin created", Code.PermissionDenied);
      }
      const overlapSeconds = validOverlap(req.overlapSeconds);
      const keyValue = generateApiKey();
      const oldStart = key.start;
      const row = await db.kysely.transaction().execute((trx) =>
        rotateKeyValue(trx, key.id, {
          keyHash: hashApiKey(keyValue),
          start: apiKeyStart(keyValue),
          expiresAt,
          overlapSeconds,
          updatedById: isUuid(actor) ? actor : null,
          now,
        }),
      );
      if (!row) throw notFound();
      await revocations.published(row.sequence);
      const ended = row.superseded;
      if (ended?.expired) {
        // Its overlap had ended but the sweep had not recorded it yet: recorded here instead.
        auditEntry(ctx, "apikey.old_value.expired", row.updated, { old_value_start: ended.start, old_value_expires_at: ended.until.toISOString() });
      } else if (ended) {
        auditEntry(ctx, "apikey.old_value.revoke.success", row.updated, { old_value_start: ended.start, reason: "regenerated_again" });
      }
      const oldUntil = row.updated.previous_expires_at;
      auditEntry(
        ctx,
        "apikey.regenerate.success",
        row.updated,
        oldUntil
          ? { overlap_seconds: overlapSeconds, old_value_start: row.updated.previous_start ?? oldStart, old_value_expires_at: new Date(oldUntil).toISOString() }
          : { old_value_start: oldStart },
      );
      // The response carries the key: never cached (RFC 9111).
      ctx.responseHeader.set("cache-control", "no-store");
      return { apiKey: await withUsage(row.updated), keyValue, revocationSequence: BigInt(row.sequence) };
    },

    async revokeOldAccountApiKeyValue(req, ctx) {
      const { key } = await authorizedKey(ctx, req.id);
      const ended = await db.kysely.transaction().execute(async (trx) => {
        const row = await clearOldApiKeyValue(trx, key.id, clock());
        if (!row) return undefined;
        // Recorded with the change: the old value is refused everywhere once this commits.
        const sequence = await insertRevocations(trx, [{ kind: "api_key", target: row.previous_key_hash }]);
        return { row, sequence };
      });
      if (!ended) return { revocationSequence: 0n };
      await revocations.published(ended.sequence);
      auditEntry(ctx, "apikey.old_value.revoke.success", key, { old_value_start: ended.row.previous_start ?? "", reason: "revoke_old" });
      return { revocationSequence: BigInt(ended.sequence) };
    },

    async deleteAccountApiKey(req, ctx) {
      const { key } = await authorizedKey(ctx, req.id);
      const deleted = await revokeApiKey(deps, revocations, ctx, key.id);
      if (!deleted) throw notFound();
      return { revocationSequence: BigInt(deleted.sequence) };
    },
  };
}
