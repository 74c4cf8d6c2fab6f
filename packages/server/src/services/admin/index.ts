/**
 * AdminService (issue 19): an instance's oversight for its instance admins.
 * - users.ts: ListUsers, GetUserDetails
 * - api-keys.ts: ListApiKeys, RevokeApiKey (the same path as DeleteAccountApiKey)
 * - input.ts: page sizes, page tokens (opaque keyset cursors), search text, day counts
 * - mappers.ts: rows to the wire
 * Who may call is the interceptor's `instance_admin` rule (auth/policy/policy.ts): API
 * keys and every other user are refused before a handler runs. See docs/admin.md.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "@tessera/sdk/proto";
import type { KeyLimiter } from "../../abuse/key-limits.js";
import { limitsOf } from "../../auth/api-keys/limits.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import type { Deps } from "../../deps.js";
import type { AdminApiKeyRow } from "../../store/admin-api-keys.js";
import { apiKeyHandlers } from "./api-keys.js";
import { toAdminApiKey } from "./mappers.js";
import { userHandlers } from "./users.js";

/** What the handlers share. */
export interface AdminDeps {
  deps: Deps;
  revocations: Pick<RevocationLog, "published">;
  /** A key as the wire message, with its usage when it has limits. */
  keyWithUsage(row: AdminApiKeyRow): Promise<ReturnType<typeof toAdminApiKey>>;
}

/** Builds the AdminService implementation. */
export function createAdminService(
  deps: Deps,
  revocations: Pick<RevocationLog, "published">,
  limiter: Pick<KeyLimiter, "usage">,
): ServiceImpl<typeof AdminService> {
  const d: AdminDeps = {
    deps,
    revocations,
    async keyWithUsage(row) {
      const limits = limitsOf(row);
      return toAdminApiKey(row, limits ? await limiter.usage(row.id, limits) : undefined, deps.clock());
    },
  };
  return { ...userHandlers(d), ...apiKeyHandlers(d) };
}
