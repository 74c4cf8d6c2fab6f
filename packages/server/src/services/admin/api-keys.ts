/**
 * AdminService, keys: ListApiKeys across accounts (filters: account, creator, expiring
 * within N days, unused for N days; keyset paging) and RevokeApiKey, which deletes any
 * key through the one path ApiKeyService.DeleteAccountApiKey takes (revocation
 * published to every instance, audited with the instance admin as actor).
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "@tessera/sdk/proto";
import { requirePrincipal } from "../../auth/request/principal.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { listApiKeysPage } from "../../store/admin-api-keys.js";
import { revokeApiKey } from "../api-key/revoke.js";
import { noStore } from "../common/response.js";
import type { AdminDeps } from "./index.js";
import { days, decodePageToken, encodePageToken, optionalUuid, pageSize, requiredUuid } from "./input.js";

const DAY_MS = 86_400_000;

/** ListApiKeys and RevokeApiKey. */
export function apiKeyHandlers(d: AdminDeps): Pick<ServiceImpl<typeof AdminService>, "listApiKeys" | "revokeApiKey"> {
  const { db, audit, clock } = d.deps;

  return {
    async listApiKeys(req, ctx) {
      const p = requirePrincipal(ctx);
      const accountId = optionalUuid(req.accountId, "account_id");
      const createdById = optionalUuid(req.createdByUserId, "created_by_user_id");
      const expiring = days(req.expiringWithinDays, "expiring_within_days");
      const unused = days(req.unusedForDays, "unused_for_days");
      const limit = pageSize(req.pageSize);
      const after = decodePageToken("api_keys", req.pageToken);
      const now = clock();
      const rows = await listApiKeysPage(
        db.kysely,
        {
          accountId,
          createdById,
          expiringBy: expiring ? new Date(now.getTime() + expiring * DAY_MS) : undefined,
          unusedSince: unused ? new Date(now.getTime() - unused * DAY_MS) : undefined,
          now,
        },
        limit + 1,
        after,
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      audit.record({
        action: "admin.api_keys.list",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: {
          account_id: accountId ?? null,
          created_by_user_id: createdById ?? null,
          expiring_within_days: expiring ?? null,
          unused_for_days: unused ?? null,
          continued: after !== undefined,
          returned: page.length,
        },
      });
      noStore(ctx);
      return {
        apiKeys: await Promise.all(page.map(d.keyWithUsage)),
        nextPageToken: rows.length > limit && last ? encodePageToken("api_keys", { ts: last.cursor_ts, id: last.id }) : "",
      };
    },

    async revokeApiKey(req, ctx) {
      requirePrincipal(ctx);
      const id = requiredUuid(req.id, "id");
      const revoked = await revokeApiKey(d.deps, d.revocations, ctx, id, { by_instance_admin: true });
      if (!revoked) throw new ConnectError("api key not found", Code.NotFound);
      d.deps.logger.info({ api_key_id: id, account_id: revoked.row.account_id, by: requirePrincipal(ctx).userId }, "api key revoked by an instance admin");
      return { revocationSequence: BigInt(revoked.sequence) };
    },
  };
}
