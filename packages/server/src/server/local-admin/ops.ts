/**
 * The admin operations, run against an open database: by a CLI command that could open
 * the database itself, or by the running server for a command over its admin socket.
 */
import type { Kysely } from "kysely";
import { rotateKeys } from "../../auth/tokens/signing-keys.js";
import { createMigrator } from "../../store/db.js";
import type { Database } from "../../store/schema.js";
import { listUsableSigningKeys } from "../../store/signing-keys.js";
import type { AdminOp, AdminResults } from "./protocol.js";

/** What the operations need besides the database. */
export interface AdminOpContext {
  now: Date;
  accessTokenLifetimeSeconds: number;
}

/** Runs one admin operation and returns its JSON-ready result. */
export async function runAdminOp<K extends AdminOp>(db: Kysely<Database>, op: K, ctx: AdminOpContext): Promise<AdminResults[K]> {
  const results: { [P in AdminOp]: () => Promise<AdminResults[P]> } = {
    "keys.list": async () => ({
      keys: (await listUsableSigningKeys(db, ctx.now)).map((k) => ({
        id: k.id,
        alg: k.alg,
        createdAt: k.created_at.toISOString(),
        retiredAt: k.retired_at?.toISOString() ?? null,
        publishUntil: k.publish_until?.toISOString() ?? null,
      })),
    }),
    "keys.rotate": async () => {
      const r = await rotateKeys(db, ctx.now, ctx.accessTokenLifetimeSeconds);
      return { kid: r.kid, retired: r.retired, publishUntil: r.publishUntil.toISOString() };
    },
    "migrate.status": async () => ({
      migrations: (await createMigrator(db).getMigrations()).map((m) => ({ name: m.name, executedAt: m.executedAt?.toISOString() ?? null })),
    }),
  };
  return results[op]();
}
