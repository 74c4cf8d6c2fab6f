/**
 * The caller's sessions (issue 10): `ListSessions`, `RevokeSession`, `RevokeAllSessions`.
 * A session is a refresh family (one per sign-in); it ends when revoked, after
 * AUTH_SESSION_IDLE_TIMEOUT without a refresh, or AUTH_SESSION_MAX_LIFETIME after
 * sign-in (enforced by `refresh.ts`; listed here with the earlier of the two ends).
 * Only human callers reach these handlers (policy rule `human`); a session id of
 * another user answers NotFound, exactly like one that does not exist.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AuthService } from "@tessera/sdk/proto";
import type { Deps } from "../../deps.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { findUserFamily, listOpenFamilies, revokeUserFamilies, revokeUserFamily } from "../../store/account-security.js";
import type { RefreshFamilyRow } from "../../store/schema.js";
import { isUuid } from "../../lib/ids.js";
import { requirePrincipal, type Principal } from "../../auth/request/principal.js";
import { noStore } from "../common/response.js";
import { signInOf } from "../../auth/tokens/refresh.js";

/** The session (refresh family) an access token was issued in, when the caller holds a Tessera token. */
export function currentSessionId(p: Principal): string | undefined {
  return p.kind === "user" ? p.sessionId : undefined;
}

/** When a family ends if nothing happens: the earlier of its absolute end and its idle end. */
export function sessionEnd(f: RefreshFamilyRow, idleTimeoutSeconds: number): Date {
  return new Date(Math.min(f.expires_at.getTime(), f.last_used_at.getTime() + idleTimeoutSeconds * 1000));
}

/** ListSessions, RevokeSession and RevokeAllSessions (the caller's own sessions). */
export function sessionHandlers(
  deps: Deps,
  revocations: Pick<RevocationLog, "published">,
): Pick<ServiceImpl<typeof AuthService>, "listSessions" | "revokeSession" | "revokeAllSessions"> {
  const { db, clock, audit, config } = deps;
  const idle = config.sessionIdleTimeoutSeconds;

  return {
    async listSessions(_req, ctx) {
      const p = requirePrincipal(ctx);
      const current = currentSessionId(p);
      const rows = await listOpenFamilies(db.kysely, p.userId, clock(), idle);
      noStore(ctx);
      return {
        sessions: rows.map((f) => ({
          id: f.id,
          createdAt: timestampFromDate(f.created_at),
          lastUsedAt: timestampFromDate(f.last_used_at),
          clientIp: f.client_ip ?? "",
          userAgent: f.user_agent ?? "",
          current: f.id === current,
          expiresAt: timestampFromDate(sessionEnd(f, idle)),
          amr: [...signInOf(f).amr],
          assuranceLevel: signInOf(f).assuranceLevel,
        })),
      };
    },

    async revokeSession(req, ctx) {
      const p = requirePrincipal(ctx);
      if (!isUuid(req.id)) throw new ConnectError("id must be a session id (UUID)", Code.InvalidArgument);
      const id = req.id.toLowerCase();
      const sequence = await revokeUserFamily(db.kysely, p.userId, id, clock(), "revoked_by_user");
      if (!sequence) {
        // Already ended: idempotent. Not the caller's (or no such id): NotFound, no existence leak.
        if (!(await findUserFamily(db.kysely, p.userId, id))) throw new ConnectError("session not found", Code.NotFound);
        return {};
      }
      await revocations.published(sequence);
      audit.record({ action: "auth.session.revoke.success", actorUserId: p.userId, request: ctx.values.get(requestInfoKey), metadata: { session_id: id } });
      return { revocationSequence: BigInt(sequence) };
    },

    async revokeAllSessions(_req, ctx) {
      const p = requirePrincipal(ctx);
      const n = await revokeUserFamilies(db.kysely, p.userId, clock(), "revoked_by_user", { idleTimeoutSeconds: idle });
      await revocations.published(n.sequence);
      audit.record({
        action: "auth.session.revoke_all.success",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: { count: n.usable },
      });
      return { revoked: n.usable, revocationSequence: BigInt(n.sequence) };
    },
  };
}
