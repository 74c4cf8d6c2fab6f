/**
 * AuthService RefreshToken and Logout: rotation of a session's refresh token (one live
 * token per session; a retry inside the grace window gets the same successor; any other
 * reuse revokes the session) and ending a session.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import { tokensToWire } from "../../auth/tokens/session-issuer.js";
import type { UserAuth } from "../../auth/user-auth.js";
import type { Deps } from "../../deps.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { revokeUserFamily } from "../../store/account-security.js";
import { noStore } from "../common/response.js";

/** RefreshToken and Logout. */
export function tokenHandlers(
  deps: Deps,
  userAuth: UserAuth,
  revocations: Pick<RevocationLog, "published">,
): Pick<ServiceImpl<typeof AuthService>, "refreshToken" | "logout"> {
  const { config, db, audit, logger, clock, metrics } = deps;
  const { sessions, gate } = userAuth;
  return {
    async refreshToken(req, ctx) {
      if (config.authMode === "none") throw new ConnectError("authentication is disabled (AUTH_MODE=none)", Code.FailedPrecondition);
      const result = await sessions.refresh(req.refreshToken);
      if (!result.ok) {
        if (result.reason === "reuse_detected") {
          metrics.refreshReuseDetected();
          await revocations.published(result.sequence ?? 0);
          audit.record({
            action: "auth.refresh.reuse_detected",
            actorUserId: result.userId,
            request: ctx.values.get(requestInfoKey),
            metadata: { session_id: result.familyId ?? null },
          });
          logger.warn({ user_id: result.userId, session_id: result.familyId }, "refresh token reuse detected; session revoked");
        }
        throw new ConnectError(
          result.reason === "reuse_detected" || result.reason === "revoked" ? "session has been revoked" : "invalid or expired refresh token",
          Code.Unauthenticated,
        );
      }
      const refused = gate.refuseUserToken(result.tokens.userId, Math.floor(clock().getTime() / 1000));
      if (refused) {
        // A session another user started elsewhere (an instance still in full mode): end it here too.
        await revocations.published(await revokeUserFamily(db.kysely, result.tokens.userId, result.familyId, clock(), "auth_mode_admin"));
        throw new ConnectError(refused, Code.Unauthenticated);
      }
      noStore(ctx);
      return { tokens: tokensToWire(result.tokens) };
    },

    async logout(req, ctx) {
      const ended = await sessions.logout(req.refreshToken);
      if (ended) {
        audit.record({
          action: "auth.logout.success",
          actorUserId: ended.userId,
          request: ctx.values.get(requestInfoKey),
          metadata: { session_id: ended.familyId },
        });
      }
      if (ended) await revocations.published(ended.sequence);
      noStore(ctx);
      return { revocationSequence: BigInt(ended?.sequence ?? 0) };
    },
  };
}
