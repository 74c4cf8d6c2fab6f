/**
 * `ChangePassword` (issue 10): the caller's current password is required (one argon2id
 * verification); the new one follows the sign-up rules (12 to 128 characters, at most
 * 512 bytes, used exactly as sent, zxcvbn score 3 or more with the product name and the
 * user's email as context words). Every other session of the user ends (issue 13,
 * finding 12), unless `keep_other_sessions`: the one of `current_refresh_token` is kept
 * when given (it must be the caller's), else the one the access token was issued in
 * (`sid`). The deprecated `revoke_other_sessions` has no effect (asking for both is
 * InvalidArgument). Only users with a password can change it (provider-only users and
 * the anonymous user: FailedPrecondition).
 * Audited as `auth.password_change.success|failure`, never with a secret.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { Deps } from "../../deps.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { replacePasswordHash, revokeUserFamilies } from "../../store/account-security.js";
import { findFamily, findRefreshTokenByHash } from "../../store/sessions.js";
import { findUserById } from "../../store/users.js";
import { checkNewPassword, checkPasswordBytes, passwordHashing } from "../../auth/passwords/hashing.js";
import { checkPasswordStrength } from "../../auth/passwords/strength.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { hashRefreshToken, isRefreshTokenFormat } from "../../auth/tokens/refresh.js";
import { currentSessionId } from "./sessions.js";

/** ChangePassword. */
export function passwordChangeHandlers(deps: Deps, revocations: Pick<RevocationLog, "published">): Pick<ServiceImpl<typeof AuthService>, "changePassword"> {
  const { db, clock, audit, config } = deps;
  const kysely = db.kysely;

  return {
    async changePassword(req, ctx) {
      const p = requirePrincipal(ctx);
      const request = ctx.values.get(requestInfoKey);
      const failure = (reason: string) => audit.record({ action: "auth.password_change.failure", actorUserId: p.userId, request, metadata: { reason } });
      if (req.revokeOtherSessions && req.keepOtherSessions) {
        throw new ConnectError("revoke_other_sessions and keep_other_sessions contradict each other (other sessions end by default)", Code.InvalidArgument);
      }
      checkPasswordBytes(req.currentPassword);
      checkPasswordBytes(req.newPassword);
      const user = await findUserById(kysely, p.userId);
      if (user?.kind !== "human" || user.password_hash === null) {
        throw new ConnectError("this user has no password (it signs in through its provider)", Code.FailedPrecondition);
      }
      if (user.disabled_at !== null) throw new ConnectError("user is disabled", Code.PermissionDenied);
      // The session to keep when revoking the others: the caller's, and only the caller's.
      let keep = currentSessionId(p);
      if (req.currentRefreshToken !== "") {
        const token = isRefreshTokenFormat(req.currentRefreshToken)
          ? await findRefreshTokenByHash(kysely, hashRefreshToken(req.currentRefreshToken))
          : undefined;
        const family = token ? await findFamily(kysely, token.family_id) : undefined;
        if (!family || family.user_id !== user.id) throw new ConnectError("current_refresh_token is not a session of this user", Code.InvalidArgument);
        keep = family.id;
      }
      if (!(await passwordHashing.verify(user.password_hash, req.currentPassword))) {
        failure("wrong_password");
        throw new ConnectError("current password is incorrect", Code.InvalidArgument);
      }
      checkNewPassword(req.newPassword);
      if (req.newPassword === req.currentPassword) {
        failure("same_password");
        throw new ConnectError("the new password must differ from the current one", Code.InvalidArgument);
      }
      try {
        await checkPasswordStrength(req.newPassword, user.email);
      } catch (e) {
        if (ConnectError.from(e).code === Code.InvalidArgument) failure("weak_password");
        throw e;
      }
      const hash = await passwordHashing.hash(req.newPassword);
      const now = clock();
      if (!(await replacePasswordHash(kysely, user.id, user.password_hash, hash, now))) {
        throw new ConnectError("the password was changed concurrently; try again", Code.Aborted);
      }
      const revoked = req.keepOtherSessions
        ? { usable: 0, sequence: 0 }
        : await revokeUserFamilies(kysely, user.id, now, "password_changed", { keepFamilyId: keep, idleTimeoutSeconds: config.sessionIdleTimeoutSeconds });
      await revocations.published(revoked.sequence);
      audit.record({ action: "auth.password_change.success", actorUserId: user.id, request, metadata: { revoked_sessions: revoked.usable } });
      return { revocationSequence: BigInt(revoked.sequence) };
    },
  };
}
