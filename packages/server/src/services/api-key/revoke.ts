/**
 * Revoking a key: the one path `ApiKeyService.DeleteAccountApiKey` and
 * `AdminService.RevokeApiKey` share. The key row and its machine user are deleted and
 * the revocation recorded in one transaction; the log's publication then reaches every
 * instance's cache; the audit entry names the caller as actor.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { RevocationLog } from "../../auth/revocation/log.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { deleteApiKeyAndUser } from "../../store/api-keys.js";
import { insertRevocations } from "../../store/revocation-log.js";
import type { ApiKeyRow } from "../../store/schema.js";

/** Records a key action in the audit trail with the caller as actor (`extra` joins the metadata). */
export function auditApiKey(
  deps: Pick<Deps, "audit">,
  ctx: HandlerContext,
  action: string,
  row: ApiKeyRow,
  extra: Record<string, string | number | boolean> = {},
): void {
  const p = requirePrincipal(ctx);
  deps.audit.record({
    action,
    actorUserId: p.userId,
    actorApiKeyId: p.kind === "api_key" ? p.apiKeyId : undefined,
    accountId: row.account_id,
    request: ctx.values.get(requestInfoKey),
    metadata: {
      api_key_id: row.id,
      name: row.name,
      ...(row.scopes.length > 0 ? { scopes: row.scopes.join(" ") } : {}),
      ...(row.client_cert_thumbprint ? { client_cert_thumbprint: row.client_cert_thumbprint } : {}),
      ...extra,
    },
  });
}

/**
 * Deletes a key and publishes its revocation; audits `apikey.delete.success`. Returns
 * the revocation's sequence, or undefined when the key no longer exists.
 */
export async function revokeApiKey(
  deps: Pick<Deps, "db" | "audit" | "clock">,
  revocations: Pick<RevocationLog, "published">,
  ctx: HandlerContext,
  id: string,
  auditExtra: Record<string, string | boolean> = {},
): Promise<{ row: ApiKeyRow; sequence: number } | undefined> {
  const deleted = await deps.db.kysely.transaction().execute(async (trx) => {
    const row = await deleteApiKeyAndUser(trx, id);
    if (!row) return undefined;
    // Both values: the old one of a rotation overlap ends with the key.
    const sequence = await insertRevocations(trx, [
      { kind: "api_key", target: row.key_hash },
      ...(row.previous_key_hash ? [{ kind: "api_key" as const, target: row.previous_key_hash }] : []),
      { kind: "user", target: row.user_id },
    ]);
    return { row, sequence };
  });
  if (!deleted) return undefined;
  await revocations.published(deleted.sequence);
  const old = deleted.row;
  const oldLive = old.previous_expires_at !== null && new Date(old.previous_expires_at).getTime() > deps.clock().getTime();
  auditApiKey(deps, ctx, "apikey.delete.success", deleted.row, oldLive ? { ...auditExtra, old_value_start: old.previous_start ?? "" } : auditExtra);
  return deleted;
}
