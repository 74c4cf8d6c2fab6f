/**
 * AuthService SignUp and Login: email and password (full mode; in admin mode only the
 * configured admin logs in). Every failed login gets the same message and costs one
 * argon2 verification, known email or not: no user enumeration by answer or timing.
 *
 * Sign-up mails a verification link (issue 18). With AUTH_REQUIRE_VERIFIED_EMAIL it
 * answers `verification_required` without tokens, and a taken email answers the same
 * after the same work (one argon2 hash, one insert that the unique index refuses), its
 * owner told by mail; the personal account is made at verification. Without it, a taken
 * email answers AlreadyExists, as Supabase and Better Auth do when sign-up signs in at
 * once (an answer with tokens cannot be faked for an email that is not yours).
 *
 * Login of a user with TOTP on answers an MfaChallenge instead of tokens (docs/mfa.md).
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import { emailTag } from "../../auth/passwords/email.js";
import { checkNewPassword, checkPasswordBytes, needsRehash, normalizeEmailInput, passwordHashing } from "../../auth/passwords/hashing.js";
import { checkPasswordStrength } from "../../auth/passwords/strength.js";
import { PASSWORD_SIGN_IN, tokensToWire } from "../../auth/tokens/session-issuer.js";
import type { RecoveryMail } from "../../auth/email-links/recovery-mail.js";
import type { UserAuth } from "../../auth/user-auth.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { ensurePersonalAccount } from "../../store/accounts.js";
import { findPasswordUserByEmail, insertPasswordUser, updatePasswordHash } from "../../store/users.js";
import { noStore } from "../common/response.js";

/** The one message for every failed password login: no user enumeration. */
export const INVALID_LOGIN = "invalid email or password";

/** Login's answer to the right password of a user who has not verified the email (AUTH_REQUIRE_VERIFIED_EMAIL). */
export const EMAIL_UNVERIFIED = "email address not verified: follow the link we mailed, or ask for a new one (ResendVerification)";

/** SignUp and Login. */
export function passwordHandlers(deps: Deps, userAuth: UserAuth, mail: RecoveryMail): Pick<ServiceImpl<typeof AuthService>, "signUp" | "login"> {
  const { config, db, audit } = deps;
  const kysely = db.kysely;

  async function issue(ctx: HandlerContext, userId: string) {
    const tokens = await userAuth.sessions.startSession(userId, ctx.values.get(requestInfoKey), PASSWORD_SIGN_IN);
    noStore(ctx);
    return { tokens: tokensToWire(tokens) };
  }

  return {
    async signUp(req, ctx) {
      if (!config.signupEnabled) throw new ConnectError("sign-up is disabled", Code.FailedPrecondition);
      checkPasswordBytes(req.password);
      const email = normalizeEmailInput(req.email);
      if (!email) throw new ConnectError("email is not a valid email address", Code.InvalidArgument);
      checkNewPassword(req.password);
      await checkPasswordStrength(req.password, email.email);
      const name = req.name.trim().slice(0, 200) || null;
      const hash = await passwordHashing.hash(req.password);
      const user = await insertPasswordUser(kysely, { email: email.email, emailNormalized: email.normalized, name, passwordHash: hash });
      const request = ctx.values.get(requestInfoKey);
      if (!user) {
        if (!config.requireVerifiedEmail) throw new ConnectError("a user with this email already exists", Code.AlreadyExists);
        mail.signupExisting(email.email);
        audit.record({ action: "auth.signup.failure", request, metadata: { reason: "email_taken", email_tag: emailTag(email.normalized) } });
        return { verificationRequired: true };
      }
      mail.verification({ id: user.id, email: email.email, emailNormalized: email.normalized });
      audit.record({ action: "auth.signup.success", actorUserId: user.id, request });
      if (config.requireVerifiedEmail) return { verificationRequired: true };
      await ensurePersonalAccount(kysely, user.id);
      return issue(ctx, user.id);
    },

    async login(req, ctx) {
      if (!config.passwordLoginEnabled) throw new ConnectError("password login is disabled", Code.FailedPrecondition);
      checkPasswordBytes(req.password);
      const email = normalizeEmailInput(req.email);
      // In admin mode only the configured admin may log in.
      const allowed = email !== undefined && (config.authMode !== "admin" || email.normalized === userAuth.adminEmail);
      const user = allowed ? await findPasswordUserByEmail(kysely, email.normalized) : undefined;
      // Exactly one argon2 verification on every path.
      const ok = await passwordHashing.verify(user?.password_hash ?? (await userAuth.dummyHash()), req.password);
      if (!user || !ok || user.disabled_at !== null) {
        audit.record({
          action: "auth.login.failure",
          actorUserId: user?.id,
          request: ctx.values.get(requestInfoKey),
          metadata: { reason: !user ? "unknown_email" : !ok ? "wrong_password" : "user_disabled", email_tag: email ? emailTag(email.normalized) : null },
        });
        throw new ConnectError(INVALID_LOGIN, Code.Unauthenticated);
      }
      if (config.requireVerifiedEmail && config.authMode === "full" && user.email_verified_at === null) {
        // The right password: saying so is no enumeration. No tokens until the link is followed.
        audit.record({ action: "auth.login.failure", actorUserId: user.id, request: ctx.values.get(requestInfoKey), metadata: { reason: "email_unverified" } });
        throw new ConnectError(EMAIL_UNVERIFIED, Code.FailedPrecondition);
      }
      if (needsRehash(user.password_hash!)) {
        // The configured cost rose since this hash was made: upgrade it now that we know the password.
        await updatePasswordHash(kysely, user.id, user.password_hash!, await passwordHashing.hash(req.password));
      }
      // A second factor (docs/mfa.md): no tokens, no session yet; VerifyMfa completes the sign-in.
      const mfaChallenge = await userAuth.mfa.challengeFor(user.id, "pwd", ctx.values.get(requestInfoKey));
      if (mfaChallenge) {
        audit.record({ action: "auth.login.mfa_challenge", actorUserId: user.id, request: ctx.values.get(requestInfoKey), metadata: { method: "password" } });
        noStore(ctx);
        return { mfaChallenge };
      }
      audit.record({ action: "auth.login.success", actorUserId: user.id, request: ctx.values.get(requestInfoKey), metadata: { method: "password" } });
      return issue(ctx, user.id);
    },
  };
}
