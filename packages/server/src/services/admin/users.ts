/**
 * AdminService, users: ListUsers (search, disabled filter, keyset paging) and
 * GetUserDetails (identities, open sessions, accounts, keys created). Instance admins
 * only (the interceptor's `instance_admin` rule); every call is audited.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "@tessera/sdk/proto";
import { requirePrincipal } from "../../auth/request/principal.js";
import { providerIssuer } from "../../config/providers.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { listOpenFamilies } from "../../store/account-security.js";
import { listUserAccounts } from "../../store/accounts.js";
import { listApiKeysPage } from "../../store/admin-api-keys.js";
import { findAdminUser, listUsersPage } from "../../store/admin-users.js";
import { listUserIdentities } from "../../store/identities.js";
import { noStore } from "../common/response.js";
import { toUserAccount } from "../user-account/mappers.js";
import type { AdminDeps } from "./index.js";
import { decodePageToken, disabledFilter, encodePageToken, pageSize, requiredUuid, searchQuery } from "./input.js";
import { toAdminUser, toIdentity, toSession } from "./mappers.js";

/** Most keys GetUserDetails lists (ListApiKeys with created_by_user_id pages through all). */
const DETAIL_KEYS = 1000;

/** ListUsers and GetUserDetails. */
export function userHandlers(d: AdminDeps): Pick<ServiceImpl<typeof AdminService>, "listUsers" | "getUserDetails"> {
  const { db, audit, clock, config } = d.deps;
  const byIssuer = new Map(config.providers.map((p) => [providerIssuer(p), p]));

  return {
    async listUsers(req, ctx) {
      const p = requirePrincipal(ctx);
      const query = searchQuery(req.query);
      const disabled = disabledFilter(req.disabled);
      const limit = pageSize(req.pageSize);
      const after = decodePageToken("users", req.pageToken);
      // One row more than the page tells whether another page follows.
      const rows = await listUsersPage(db.kysely, { query, disabled }, limit + 1, after);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      audit.record({
        action: "admin.users.list",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: { query, disabled, page_size: limit, continued: after !== undefined, returned: page.length },
      });
      noStore(ctx);
      return {
        users: page.map(toAdminUser),
        nextPageToken: rows.length > limit && last ? encodePageToken("users", { ts: last.cursor_ts, id: last.id }) : "",
      };
    },

    async getUserDetails(req, ctx) {
      const p = requirePrincipal(ctx);
      const userId = requiredUuid(req.userId, "user_id");
      const user = await findAdminUser(db.kysely, userId);
      if (!user) throw new ConnectError("user not found", Code.NotFound);
      const idle = config.sessionIdleTimeoutSeconds;
      const [identities, sessions, accounts, keys] = await Promise.all([
        listUserIdentities(db.kysely, userId),
        listOpenFamilies(db.kysely, userId, clock(), idle),
        listUserAccounts(db.kysely, userId),
        listApiKeysPage(db.kysely, { createdById: userId, now: clock() }, DETAIL_KEYS, undefined),
      ]);
      audit.record({ action: "admin.user.view", actorUserId: p.userId, request: ctx.values.get(requestInfoKey), metadata: { target_user_id: userId } });
      noStore(ctx);
      return {
        user: toAdminUser(user),
        identities: identities.map((r) => toIdentity(r, byIssuer.get(r.issuer))),
        sessions: sessions.map((f) => toSession(f, idle)),
        accounts: accounts.map((a) => toUserAccount(a, a.role)),
        apiKeys: await Promise.all(keys.map(d.keyWithUsage)),
      };
    },
  };
}
