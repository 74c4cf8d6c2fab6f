/**
 * Rotation with overlap (issue 19), inside the handler's transaction: what a regenerate
 * does to a key's values and which hashes it revokes. The new value works at once. With
 * an overlap the old value stays valid until `min(now + overlap, its own expiry)`; without
 * one it is revoked at once. A value kept from an earlier regenerate (the old-old value)
 * is revoked at once either way: a key has at most two live values.
 */
import type { Kysely } from "kysely";
import { insertRevocations, type NewRevocation } from "../../store/revocation-log.js";
import { lockApiKeyValues, updateApiKeyValue } from "../../store/api-keys.js";
import type { ApiKeyRow, Database } from "../../store/schema.js";

/** What a regenerate did. */
export interface Rotation {
  updated: ApiKeyRow;
  /** The revocation log's sequence (0: nothing revoked). */
  sequence: number;
  /**
   * Set when this regenerate ended an old-old value: its display prefix, when its overlap
   * ended or would have, and whether it had already ended (the sweep had not cleared it yet).
   */
  superseded: { start: string; until: Date; expired: boolean } | undefined;
}

/** Gives the key `id` the value with `keyHash` and the old value's overlap; undefined when the key is gone. */
export async function rotateKeyValue(
  trx: Kysely<Database>,
  id: string,
  v: { keyHash: string; start: string; expiresAt: Date; overlapSeconds: number; updatedById: string | null; now: Date },
): Promise<Rotation | undefined> {
  // The row is re-read under a lock so the hashes being revoked are the current ones.
  const cur = await lockApiKeyValues(trx, id);
  if (cur === undefined) return undefined;
  const nowMs = v.now.getTime();
  const revoke: NewRevocation[] = [];
  let superseded: Rotation["superseded"];
  if (cur.previous_key_hash !== null) {
    revoke.push({ kind: "api_key", target: cur.previous_key_hash });
    const until = new Date(cur.previous_expires_at ?? v.now);
    superseded = { start: cur.previous_start ?? "", until, expired: until.getTime() <= nowMs };
  }
  const overlapEnd = Math.min(nowMs + v.overlapSeconds * 1000, new Date(cur.expires_at).getTime());
  const keepOld = v.overlapSeconds > 0 && overlapEnd > nowMs;
  if (!keepOld) revoke.push({ kind: "api_key", target: cur.key_hash });
  const updated = await updateApiKeyValue(trx, id, {
    key_hash: v.keyHash,
    start: v.start,
    expires_at: v.expiresAt,
    previous: keepOld ? { key_hash: cur.key_hash, start: cur.start, expires_at: new Date(overlapEnd) } : null,
    updated_by_id: v.updatedById,
    now: v.now,
  });
  if (!updated) return undefined;
  // Recorded with the change: revoked values are refused everywhere once this commits.
  const sequence = await insertRevocations(trx, revoke);
  return { updated, sequence, superseded };
}
