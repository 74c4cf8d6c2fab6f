/**
 * The one Redis connection of an instance (REDIS_URL), shared by the abuse counters
 * (redis-counters.ts) and the per-key limits of API keys (key-limits-redis.ts). Commands
 * fail fast while Redis is away (no offline queue, 500 ms per command) so each user falls
 * back to this instance's memory instead of making requests wait.
 */
import { Redis } from "ioredis";

/** Connects to `url` (lazily reconnecting, backing off up to 2 s). `disconnect()` it at shutdown. */
export function createRedisClient(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
}
