/**
 * AccountRecoveryService (issue 18): VerifyEmail, ResendVerification,
 * RequestPasswordReset, ResetPassword. Public; only in full mode with password sign-in.
 * The requests that mail answer the same whether or not the email is registered, after
 * the same one lookup: the mail (and its token) is prepared in the mail queue.
 * Audited as `auth.email_verify.*`, `auth.password_reset.*`, never with a token.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AccountRecoveryService } from "@tessera/sdk/proto";
import { emailTag } from "../../auth/passwords/email.js";
import { checkNewPassword, checkPasswordBytes, normalizeEmailInput, passwordHashing } from "../../auth/passwords/hashing.js";
import { checkPasswordStrength } from "../../auth/passwords/strength.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import type { RecoveryMail } from "../../auth/email-links/recovery-mail.js";
import { hashEmailToken, isEmailTokenFormat } from "../../auth/email-links/tokens.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { ensurePersonalAccount } from "../../store/accounts.js";
import { consumeEmailToken, findUsableEmailToken, markEmailVerified, resetPasswordWithToken } from "../../store/email-tokens.js";
import { findPasswordUserByEmail, findUserById } from "../../store/users.js";

/** What AccountRecoveryService needs besides the common dependencies. */
export interface AccountRecoveryOptions {
  mail: RecoveryMail;
  revocations: Pick<RevocationLog, "published">;
}

const BAD_VERIFY_LINK = "this verification link is invalid, used or expired; ask for a new one";
const BAD_RESET_LINK = "this password-reset link is invalid, used or expired; ask for a new one";

/** Builds the AccountRecoveryService implementation. */
export function createAccountRecoveryService(deps: Deps, opts: AccountRecoveryOptions): ServiceImpl<typeof AccountRecoveryService> {
  const { config, db, audit, clock } = deps;
  const kysely = db.kysely;
  const { mail } = opts;
  const enabled = config.authMode === "full" && config.passwordLoginEnabled;

  function requireEnabled(): void {
    if (!enabled) throw new ConnectError("password sign-in is not enabled", Code.FailedPrecondition);
  }

  /** The enabled password user of an email (one query on every path), or undefined. */
  async function userOf(rawEmail: string) {
    const email = normalizeEmailInput(rawEmail);
    if (!email) throw new ConnectError("email is not a valid email address", Code.InvalidArgument);
    const user = await findPasswordUserByEmail(kysely, email.normalized);
    return { email, user: user && user.disabled_at === null && user.email !== null ? { ...user, email: user.email } : undefined };
  }

  const requestOf = (ctx: HandlerContext) => ctx.values.get(requestInfoKey);

  return {
    async verifyEmail(req, ctx) {
      requireEnabled();
      if (!isEmailTokenFormat(req.token)) throw new ConnectError(BAD_VERIFY_LINK, Code.InvalidArgument);
      const now = clock();
      const token = await consumeEmailToken(kysely, hashEmailToken(req.token), "verify_email", now);
      if (!token || !(await markEmailVerified(kysely, token.user_id, token.email_normalized, now))) {
        audit.record({
          action: "auth.email_verify.failure",
          actorUserId: token?.user_id,
          request: requestOf(ctx),
          metadata: { reason: token ? "email_changed" : "bad_token" },
        });
        throw new ConnectError(BAD_VERIFY_LINK, Code.InvalidArgument);
      }
      // With AUTH_REQUIRE_VERIFIED_EMAIL the personal account waits for this (SignUp makes none).
      await ensurePersonalAccount(kysely, token.user_id);
      audit.record({ action: "auth.email_verify.success", actorUserId: token.user_id, request: requestOf(ctx) });
      return {};
    },

    async resendVerification(req) {
      requireEnabled();
      const { user } = await userOf(req.email);
      if (user && user.email_verified_at === null) {
        mail.verification({ id: user.id, email: user.email, emailNormalized: user.email_normalized! }, { throttle: true });
      }
      return {};
    },

    async requestPasswordReset(req, ctx) {
      requireEnabled();
      const { email, user } = await userOf(req.email);
      if (user) mail.passwordReset({ id: user.id, email: user.email, emailNormalized: email.normalized });
      // The same record for every email; only the audit trail (admins) says which it was.
      audit.record({
        action: "auth.password_reset_request.success",
        actorUserId: user?.id,
        request: requestOf(ctx),
        metadata: { email_tag: emailTag(email.normalized), mailed: user !== undefined },
      });
      return {};
    },

    async resetPassword(req, ctx) {
      requireEnabled();
      checkPasswordBytes(req.newPassword);
      const request = requestOf(ctx);
      const bad = (reason: string, userId?: string): never => {
        audit.record({ action: "auth.password_reset.failure", actorUserId: userId, request, metadata: { reason } });
        throw new ConnectError(BAD_RESET_LINK, Code.InvalidArgument);
      };
      if (!isEmailTokenFormat(req.token)) bad("bad_token");
      const tokenHash = hashEmailToken(req.token);
      const token = await findUsableEmailToken(kysely, tokenHash, "password_reset", clock());
      const user = token ? await findUserById(kysely, token.user_id) : undefined;
      if (!token || !user) return bad("bad_token");
      checkNewPassword(req.newPassword);
      try {
        await checkPasswordStrength(req.newPassword, user.email ?? "");
      } catch (e) {
        if (ConnectError.from(e).code === Code.InvalidArgument)
          audit.record({ action: "auth.password_reset.failure", actorUserId: user.id, request, metadata: { reason: "weak_password" } });
        throw e;
      }
      const passwordHash = await passwordHashing.hash(req.newPassword);
      const done = await resetPasswordWithToken(kysely, { tokenHash, passwordHash, now: clock(), idleTimeoutSeconds: config.sessionIdleTimeoutSeconds });
      // Used meanwhile (a concurrent reset), or the user was disabled or changed address.
      if (!done) return bad("token_used_or_user_changed", user.id);
      await opts.revocations.published(done.revoked.sequence);
      if (done.email) mail.passwordChanged(done.email);
      audit.record({ action: "auth.password_reset.success", actorUserId: done.userId, request, metadata: { revoked_sessions: done.revoked.usable } });
      return { revocationSequence: BigInt(done.revoked.sequence) };
    },
  };
}
