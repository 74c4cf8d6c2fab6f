/**
 * `SetUserDisabled` (issue 10): an instance admin (the admin-mode user, or a user with
 * the instance-admin flag; enforced by the interceptor's `instance_admin` rule) disables
 * or re-enables a user.
 *
 * What stops, and when, for a disabled user:
 * - password login, `RefreshToken` and provider login: at once (they read the database);
 * - every session (refresh family): revoked at once, so re-enabling does not revive them;
 * - an API key (the target is the key's machine user): at once, on every instance
 *   (NOTIFY `user:<id>` on `tessera_api_key_revoked` purges the verifiers' caches);
 * - Tessera access tokens already issued: at once on this instance, within 30 s on
 *   others (the verifier's cached user status), and at the latest at their `exp`;
 * - provider bearer tokens: within 30 s (the cached identity -> user status).
 * An admin cannot disable itself (FailedPrecondition): it would lock the instance out;
 * in AUTH_MODE=admin nobody can disable the configured admin (FailedPrecondition; it is
 * replaced by restarting with another AUTH_ADMIN_EMAIL, and startup re-enables it anyway).
 * API keys belong to accounts, not to the human who made them: disabling a human leaves
 * its accounts' keys working; disable the key's own (machine) user to stop one.
 *
 * `RevokeUserSessions`: an instance admin ends sessions without disabling anyone: every
 * session of one user, or of every user except the session making the call. Sign-in
 * keeps working; access tokens already issued stay valid until their `exp` (they are
 * self-contained, like after a user's own `RevokeAllSessions`).
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { revokeFamilies, revokeUserFamilies, setUserDisabledAt } from "../../store/account-security.js";
import { findConfiguredAdminId } from "../../store/configured-admin.js";
import { findUserById } from "../../store/users.js";
import { isUuid } from "../../lib/ids.js";
import { revocationTargetsForUser } from "../../auth/api-keys/revocation.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { currentSessionId } from "./sessions.js";

/** What the instance-admin handlers ask of authentication. */
export interface AdminHandlerOptions {
  /** Revokes API keys everywhere (purges caches, NOTIFY). */
  revokeApiKeys(targets: readonly string[]): Promise<void>;
  /** Forgets cached status of the user in this process's token verifiers. */
  forgetUser(userId: string): void;
}

/** SetUserDisabled and RevokeUserSessions (instance admins). */
export function adminHandlers(deps: Deps, opts: AdminHandlerOptions): Pick<ServiceImpl<typeof AuthService>, "setUserDisabled" | "revokeUserSessions"> {
  const { db, clock, audit, config, logger } = deps;

  return {
    async setUserDisabled(req, ctx) {
      const p = requirePrincipal(ctx);
      if (!isUuid(req.userId)) throw new ConnectError("user_id must be a UUID", Code.InvalidArgument);
      const userId = req.userId.toLowerCase();
      if (req.disabled && config.authMode === "admin" && userId === (await findConfiguredAdminId(db.kysely))) {
        throw new ConnectError("the configured admin cannot be disabled; to replace it, restart with another AUTH_ADMIN_EMAIL", Code.FailedPrecondition);
      }
      if (req.disabled && userId === p.userId) throw new ConnectError("an admin cannot disable itself", Code.FailedPrecondition);
      const now = clock();
      const user = await setUserDisabledAt(db.kysely, userId, req.disabled ? now : null);
      if (!user) throw new ConnectError("user not found", Code.NotFound);
      let sessions = 0;
      if (req.disabled) {
        sessions = await revokeUserFamilies(db.kysely, userId, now, "user_disabled", { idleTimeoutSeconds: config.sessionIdleTimeoutSeconds });
      }
      opts.forgetUser(userId);
      if (user.kind === "machine") {
        // Disabling and re-enabling both purge the API-key caches of every instance.
        await opts.revokeApiKeys(await revocationTargetsForUser(db, userId));
      }
      audit.record({
        action: req.disabled ? "auth.user.disable.success" : "auth.user.enable.success",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: { target_user_id: userId, user_kind: user.kind, revoked_sessions: sessions },
      });
      logger.info({ user_id: userId, disabled: req.disabled, by: p.userId }, req.disabled ? "user disabled" : "user enabled");
      return {};
    },

    async revokeUserSessions(req, ctx) {
      const p = requirePrincipal(ctx);
      if ((req.userId === "") === !req.allUsers) throw new ConnectError("set exactly one of user_id and all_users", Code.InvalidArgument);
      const now = clock();
      const idleTimeoutSeconds = config.sessionIdleTimeoutSeconds;
      let revoked: number;
      let target: Record<string, string | boolean>;
      if (req.allUsers) {
        // Every user's, except the session making the call (the admin keeps working).
        revoked = await revokeFamilies(db.kysely, "all", now, "revoked_by_admin", { keepFamilyId: currentSessionId(p), idleTimeoutSeconds });
        target = { all_users: true };
      } else {
        if (!isUuid(req.userId)) throw new ConnectError("user_id must be a UUID", Code.InvalidArgument);
        const userId = req.userId.toLowerCase();
        if (!(await findUserById(db.kysely, userId))) throw new ConnectError("user not found", Code.NotFound);
        // Every session of that user, the caller's own included when it names itself.
        revoked = await revokeFamilies(db.kysely, { userId }, now, "revoked_by_admin", { idleTimeoutSeconds });
        target = { target_user_id: userId };
      }
      audit.record({
        action: "auth.user_sessions.revoke.success",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: { ...target, revoked_sessions: revoked },
      });
      logger.info({ ...target, revoked_sessions: revoked, by: p.userId }, "sessions revoked by an instance admin");
      return { revoked };
    },
  };
}
