/**
 * UserAccountService GetAccountAuditEvents: an account's audit trail for its admins,
 * newest first, paged by an opaque cursor.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { UserAccountService } from "@tessera/sdk/proto";
import { listAccountAuditEventsPage } from "../../store/audit.js";
import type { HandlerDeps } from "./context.js";
import { decodePageToken, encodePageToken, pageSize, requireUuid } from "./input.js";
import { toAuditEvent } from "./mappers.js";

type Handlers = Pick<ServiceImpl<typeof UserAccountService>, "getAccountAuditEvents">;

/** Builds the audit trail handler. */
export function auditHandlers(deps: HandlerDeps): Handlers {
  return {
    async getAccountAuditEvents(req, ctx) {
      const accountId = requireUuid(req.accountId, "account_id");
      const size = pageSize(req.pageSize);
      const after = decodePageToken(req.pageToken);
      await deps.access.authorize(ctx, accountId);
      const rows = await listAccountAuditEventsPage(deps.db.kysely, accountId, size + 1, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return {
        events: page.map(toAuditEvent),
        nextPageToken: rows.length > size && last ? encodePageToken({ time: last.cursor_time, id: last.id }) : "",
      };
    },
  };
}
