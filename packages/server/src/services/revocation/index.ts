/**
 * RevocationService (issue 16): the revocation log for services that verify Tessera
 * credentials themselves (`@tessera/connect`'s interceptor). Callers: instance admins,
 * and API keys created by an instance admin (policy rule `instance_admin_or_admin_key`).
 *
 * WatchRevocations streams the log after a cursor: the history kept (24 h), then every
 * new event as this instance applies it, and a heartbeat every HEARTBEAT_MS while this
 * instance's view of the log is fresh (within a second); no heartbeat means "do not
 * trust me", so a subscriber's staleness bound trips. Each stream holds one page of
 * events at most; streams end cleanly when the server shuts down (`closeStreams`).
 */
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { RevocationService } from "@tessera/sdk/proto";
import { requirePrincipal, type Principal } from "../../auth/request/principal.js";
import { parseBearer } from "../../auth/request/bearer.js";
import { hashApiKey, looksLikeApiKey } from "../../auth/api-keys/format.js";
import { LIVE_WINDOW_MS, type RevocationLog } from "../../auth/revocation/log.js";
import type { Deps } from "../../deps.js";
import { isUuid } from "../../lib/ids.js";
import { ackSubscriber, listLiveParticipants, readRevocations, reportParticipant, revocationHead } from "../../store/revocation-log.js";
import type { RevocationEventRow, RevocationParticipantRow } from "../../store/schema.js";

/** A heartbeat at least this often (the contract says at least every second). */
const HEARTBEAT_MS = 500;
/** Events per message (and per database read). */
const PAGE = 500;
/** Open streams per instance at most. */
const MAX_STREAMS = 1000;
/** How often an open stream refreshes its subscriber's last_seen_at. */
const SEEN_EVERY_MS = 10_000;
/** Participants listed at most. */
const MAX_PARTICIPANTS = 1000;
const NAME_RE = /^[\x20-\x7e]{1,100}$/;

/** The service, and the hook that ends its streams (called before the server drains). */
export interface RevocationServiceImpl {
  impl: ServiceImpl<typeof RevocationService>;
  closeStreams(): void;
  /** Open streams now (tests). */
  openStreams(): number;
}

function toEvent(row: RevocationEventRow) {
  const base = { sequence: BigInt(row.sequence), createdAt: timestampFromDate(row.created_at) };
  switch (row.kind) {
    case "api_key":
      return { ...base, target: { case: "apiKeySha256" as const, value: row.target } };
    case "user":
      return { ...base, target: { case: "userId" as const, value: row.target } };
    case "session":
      return { ...base, target: { case: "sessionId" as const, value: row.target } };
    case "signing_key":
      return { ...base, target: { case: "signingKeyId" as const, value: row.target } };
    case "flush_all":
      return { ...base, target: { case: "flushAll" as const, value: true } };
  }
}

function toParticipant(p: RevocationParticipantRow) {
  return {
    kind: p.kind,
    name: p.kind === "subscriber" ? `${p.name} (${p.id})` : p.name,
    appliedSequence: BigInt(p.applied_sequence),
    lastSeenAt: timestampFromDate(p.last_seen_at),
  };
}

/** The credential watching: its user, its session, and the SHA-256 of the API-key value it presented. */
interface Caller {
  userId: string;
  sessionId?: string | undefined;
  apiKeySha256?: string | undefined;
}

/**
 * Whether `row` revokes the credential watching: its user (a deleted key's machine user, a
 * disabled user), its session, or the key value it presented (a regenerate, RevokeOld or
 * the end of a rotation overlap revoke that value, not the key's machine user).
 */
function revokesCaller(row: RevocationEventRow, caller: Caller): boolean {
  return (
    (row.kind === "user" && row.target === caller.userId) ||
    (row.kind === "session" && row.target === caller.sessionId) ||
    (row.kind === "api_key" && row.target === caller.apiKeySha256)
  );
}

/** The caller of a stream: an API key's value is known by its hash (as the revocation log names it). */
function callerOf(principal: Principal, authorization: string | null): Caller {
  if (principal.kind === "user") return { userId: principal.userId, sessionId: principal.sessionId };
  if (principal.kind !== "api_key") return { userId: principal.userId };
  const bearer = parseBearer(authorization);
  return { userId: principal.userId, apiKeySha256: bearer.ok && looksLikeApiKey(bearer.token) ? hashApiKey(bearer.token) : undefined };
}

function sequenceArg(v: bigint, field: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConnectError(`${field} must be 0 or a sequence number`, Code.InvalidArgument);
  return Number(v);
}

/** Builds RevocationService over this instance's revocation log. */
export function createRevocationService(deps: Deps, log: Pick<RevocationLog, "applied" | "cachesTrusted" | "waitForChange">): RevocationServiceImpl {
  const { db, clock } = deps;
  const closing = new AbortController();
  let open = 0;

  const impl: ServiceImpl<typeof RevocationService> = {
    async *watchRevocations(req, ctx) {
      if (!NAME_RE.test(req.subscriberName)) throw new ConnectError("subscriber_name must be 1 to 100 printable ASCII characters", Code.InvalidArgument);
      let cursor = sequenceArg(req.afterSequence, "after_sequence");
      const principal = requirePrincipal(ctx);
      const caller = callerOf(principal, ctx.requestHeader.get("authorization"));
      if (closing.signal.aborted) throw new ConnectError("server is shutting down", Code.Unavailable);
      if (open >= MAX_STREAMS) throw new ConnectError("too many revocation streams on this instance", Code.ResourceExhausted);
      open++;
      const signal = AbortSignal.any([ctx.signal, closing.signal]);
      try {
        const subscriberId = randomUUID();
        const { head, prunedThrough } = await revocationHead(db.kysely);
        let reset = false;
        if (cursor === 0) cursor = head;
        else if (cursor < prunedThrough || cursor > head) {
          // Older than the history kept (or from another log): forget everything, start at the head.
          reset = true;
          cursor = head;
        }
        const report = () => reportParticipant(db.kysely, { id: subscriberId, kind: "subscriber", name: req.subscriberName, applied: cursor, now: clock() });
        await report();
        let seenAt = performance.now();
        yield { events: [], headSequence: BigInt(Math.max(head, cursor)), reset, subscriberId };
        let sentAt = performance.now();
        // An API key's stream ends with the value's expiry (for an old value: its overlap's end).
        const endsAtMs = principal.kind === "api_key" ? principal.expiresAt.getTime() : Number.POSITIVE_INFINITY;
        while (!signal.aborted) {
          if (clock().getTime() >= endsAtMs) throw new ConnectError("the api key watching revocations expired", Code.Unauthenticated);
          if (log.applied() > cursor) {
            const rows = await readRevocations(db.kysely, cursor, PAGE);
            if (rows.length > 0) {
              cursor = rows[rows.length - 1]!.sequence;
              yield { events: rows.map(toEvent), headSequence: BigInt(Math.max(cursor, log.applied())), reset: false, subscriberId };
              sentAt = performance.now();
              // The stream was authorized when it opened; it ends when its own credential is revoked.
              if (rows.some((r) => revokesCaller(r, caller))) throw new ConnectError("the credential watching revocations was revoked", Code.Unauthenticated);
              continue;
            }
          }
          const now = performance.now();
          if (now - seenAt >= SEEN_EVERY_MS) {
            await report().catch(() => {});
            seenAt = now;
          }
          if (now - sentAt >= HEARTBEAT_MS) {
            // Only while this instance's view of the log is fresh: silence tells the subscriber not to trust it.
            if (log.cachesTrusted()) {
              yield { events: [], headSequence: BigInt(cursor), reset: false, subscriberId };
              sentAt = performance.now();
            }
          }
          await log.waitForChange(Math.max(1, HEARTBEAT_MS - (performance.now() - sentAt)), signal);
        }
      } finally {
        open--;
      }
    },

    async ackRevocations(req) {
      if (!isUuid(req.subscriberId)) throw new ConnectError("subscriber_id must be the id WatchRevocations sent", Code.InvalidArgument);
      const applied = sequenceArg(req.appliedSequence, "applied_sequence");
      if (!(await ackSubscriber(db.kysely, req.subscriberId.toLowerCase(), applied, clock()))) {
        throw new ConnectError("unknown subscriber (watch first)", Code.NotFound);
      }
      return {};
    },

    async getRevocationStatus(req) {
      const { head } = await revocationHead(db.kysely);
      const sequence = req.sequence === 0n ? head : sequenceArg(req.sequence, "sequence");
      const live = await listLiveParticipants(db.kysely, new Date(clock().getTime() - LIVE_WINDOW_MS), MAX_PARTICIPANTS);
      const lagging = live.filter((p) => p.applied_sequence < sequence);
      return {
        appliedEverywhere: lagging.length === 0,
        lagging: lagging.map(toParticipant),
        participants: live.map(toParticipant),
        headSequence: BigInt(head),
      };
    },
  };

  return {
    impl,
    closeStreams: () => closing.abort(),
    openStreams: () => open,
  };
}
