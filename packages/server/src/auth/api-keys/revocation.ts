/**
 * The one revocation broadcast for API keys. A revocation purges this instance's cache
 * at once, then tells every other instance sharing the database through NOTIFY on
 * `API_KEY_REVOKED_CHANNEL`; each instance LISTENs and purges the same targets. A
 * missed notification heals itself when the cached entry's TTL runs out.
 *
 * Targets: a key hash (64 hex), `user:<uuid>` (every key of that machine user, e.g. when
 * it is disabled), or `*` (clear everything, e.g. when the listener reconnects).
 */
import type { Db } from "../../store/db.js";
import { findApiKeyHashesByUser } from "../../store/api-keys.js";
import type { Logger } from "../../lib/logger.js";

/** NOTIFY channel for revoked keys. */
export const API_KEY_REVOKED_CHANNEL = "tessera_api_key_revoked";

/** The prefix of a target naming every key of a machine user. */
export const USER_TARGET_PREFIX = "user:";

/** Revokes cached API keys here and on every other instance. */
export interface ApiKeyRevocation {
  /** Subscribes `purge` to revocations from every instance (this one included). */
  listen(): Promise<void>;
  /** Purges locally at once, then broadcasts. Never throws: a failed broadcast is logged. */
  revoke(targets: readonly string[]): Promise<void>;
}

/** Builds the revocation broadcast over the database's NOTIFY; `purge` forgets targets in this instance's cache. */
export function createApiKeyRevocation(db: Pick<Db, "listen" | "notify">, logger: Logger, purge: (target: string) => void): ApiKeyRevocation {
  return {
    listen: () => db.listen(API_KEY_REVOKED_CHANNEL, purge),
    async revoke(targets) {
      for (const t of targets) purge(t);
      for (const t of targets) {
        try {
          await db.notify(API_KEY_REVOKED_CHANNEL, t);
        } catch (e) {
          logger.warn({ err: { message: (e as Error).message } }, "api key revocation not broadcast; other instances rely on the cache TTL");
        }
      }
    },
  };
}

/** Revocation targets for every key of a machine user (for whoever disables users). */
export async function revocationTargetsForUser(db: Pick<Db, "kysely">, userId: string): Promise<string[]> {
  return [`${USER_TARGET_PREFIX}${userId}`, ...(await findApiKeyHashesByUser(db.kysely, userId))];
}
