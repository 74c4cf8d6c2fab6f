/**
 * `SetUserDisabled` (issue 10): an instance admin (the admin-mode user, or a user with
 * the instance-admin flag; enforced by the interceptor's `instance_admin` rule) disables
 * or re-enables a user.
 *
 * What stops, and when, for a disabled user:
 * - password login, `RefreshToken` and provider login: at once (they read the database);
 * - every session (refresh family): revoked at once, so re-enabling does not revive them;
 * - an API key (the target is the key's machine user): at once, on every instance
 *   (the revocation log records the user and each of its keys; see auth/revocation/);
 * - Tessera access tokens already issued: at once on every instance (the user's
 *   revocation reaches every verifier's cached user status through the same log);
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
import type { RevocationLog } from "../../auth/revocation/log.js";
import { findApiKeyHashesByUser } from "../../store/api-keys.js";
import { insertRevocations } from "../../store/revocation-log.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { currentSessionId } from "./sessions.js";

/** What the instance-admin handlers ask of authentication. */
export interface AdminHandlerOptions {
  /** The revocation log, told of each committed revocation. */
  revocations: Pick<RevocationLog, "published">;
  /** Forgets cached API keys in this instance only (`user:<id>`: after re-enabling). */
  forgetApiKeys(target: string): void;
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
      const done = await db.kysely.transaction().execute(async (trx) => {
        const user = await setUserDisabledAt(trx, userId, req.disabled ? now : null);
        if (!user || !req.disabled) return user && { user, sessions: 0, sequence: 0 };
        const families = await revokeUserFamilies(trx, userId, now, "user_disabled", { idleTimeoutSeconds: config.sessionIdleTimeoutSeconds });
        // The user (every credential it holds), and each of its keys by value for subscribers that cache by key.
        const keys = user.kind === "machine" ? await findApiKeyHashesByUser(trx, userId) : [];
        const sequence = await insertRevocations(trx, [{ kind: "user", target: userId }, ...keys.map((k) => ({ kind: "api_key" as const, target: k }))]);
        return { user, sessions: families.usable, sequence: Math.max(sequence, families.sequence) };
      });
      if (!done) throw new ConnectError("user not found", Code.NotFound);
      const { user, sessions } = done;
      await opts.revocations.published(done.sequence);
      // Re-enabling is no revocation: this instance forgets at once, others within their cache TTL (30 s).
      opts.forgetUser(userId);
      if (!req.disabled) opts.forgetApiKeys(`user:${userId}`);
      audit.record({
        action: req.disabled ? "auth.user.disable.success" : "auth.user.enable.success",
        actorUserId: p.userId,
        request: ctx.values.get(requestInfoKey),
        metadata: { target_user_id: userId, user_kind: user.kind, revoked_sessions: sessions },
      });
      logger.info({ user_id: userId, disabled: req.disabled, by: p.userId }, req.disabled ? "user disabled" : "user enabled");
      return { revocationSequence: BigInt(done.sequence) };
    },

    async revokeUserSessions(req, ctx) {
      const p = requirePrincipal(ctx);
      if ((req.userId === "") === !req.allUsers) throw new ConnectError("set exactly one of user_id and all_users", Code.InvalidArgument);
      const now = clock();
      const idleTimeoutSeconds = config.sessionIdleTimeoutSeconds;
      let revoked: { usable: number; sequence: number };
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
        metadata: { ...target, revoked_sessions: revoked.usable },
      });
      await opts.revocations.published(revoked.sequence);
      logger.info({ ...target, revoked_sessions: revoked.usable, by: p.userId }, "sessions revoked by an instance admin");
      return { revoked: revoked.usable, revocationSequence: BigInt(revoked.sequence) };
    },
  };
}
