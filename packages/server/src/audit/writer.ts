/**
 * The audit trail writer. `record()` never throws and never waits on the database:
 * events are queued and written in batches in the background; `flush()` waits for
 * everything queued so far (tests, shutdown). Metadata must be small and secret-free.
 */
import { isUuid } from "../lib/ids.js";
import type { Kysely } from "kysely";
import type { Logger } from "../lib/logger.js";
import type { RequestInfo } from "../lib/request-info.js";
import { insertAuditEvents } from "../store/audit.js";
import type { Database, NewAuditEvent } from "../store/schema.js";

/** One audit event. `action` is `domain.action.outcome`, e.g. `apikey.create.success`. */
export interface AuditEntry {
  action: string;
  actorUserId?: string | undefined;
  actorApiKeyId?: string | undefined;
  accountId?: string | undefined;
  request?: RequestInfo | undefined;
  metadata?: Record<string, string | number | boolean | null> | undefined;
}

export interface AuditWriter {
  record(entry: AuditEntry): void;
  /** Resolves once every event recorded before the call is written (or dropped after failing). */
  flush(): Promise<void>;
}

const MAX_QUEUE = 10_000;

function uuidOrNull(v: string | undefined): string | null {
  return isUuid(v) ? v : null;
}

/** Builds the background audit writer. */
export function createAuditWriter(db: Kysely<Database>, logger: Logger): AuditWriter {
  let queue: NewAuditEvent[] = [];
  let writing: Promise<void> | undefined;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await insertAuditEvents(db, batch);
      } catch (e) {
        logger.error({ err: { message: (e as Error).message }, dropped: batch.length }, "audit events could not be written");
      }
    }
  }
  function schedule(): Promise<void> {
    writing ??= new Promise<void>((r) => setImmediate(r)).then(drain).finally(() => {
      writing = undefined;
      if (queue.length > 0) void schedule();
    });
    return writing;
  }

  return {
    record(entry) {
      if (queue.length >= MAX_QUEUE) {
        logger.error({ action: entry.action }, "audit queue full; event dropped");
        return;
      }
      queue.push({
        action: entry.action,
        actor_user_id: uuidOrNull(entry.actorUserId),
        actor_api_key_id: uuidOrNull(entry.actorApiKeyId),
        account_id: uuidOrNull(entry.accountId),
        client_ip: entry.request?.clientIp || null,
        user_agent: entry.request?.userAgent || null,
        metadata: JSON.stringify(entry.metadata ?? {}),
        created_at: new Date(),
      });
      void schedule();
    },
    async flush() {
      while (writing || queue.length > 0) await schedule();
    },
  };
}
