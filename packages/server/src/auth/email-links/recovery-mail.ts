/**
 * The mails of account recovery (issue 18), each prepared in the mail queue's worker
 * (never on the request path): the token is made and stored there, so a request
 * that mails answers as fast as one that does not.
 */
import type { Deps } from "../../deps.js";
import type { Mailer } from "../../mail/mailer.js";
import { emailTokenIssuedSince, issueEmailToken } from "../../store/email-tokens.js";
import type { EmailTokenPurpose } from "../../store/schema.js";
import { newEmailToken, PASSWORD_RESET_TTL_MS, VERIFY_EMAIL_TTL_MS } from "./tokens.js";

/** A resend is ignored when a verification link went to the user within this. */
const RESEND_INTERVAL_MS = 60_000;

/** The user a mail goes to. */
interface MailUser {
  id: string;
  /** As the user gave it: where mail goes. */
  email: string;
  emailNormalized: string;
}

export interface RecoveryMail {
  /** A verification link; with `throttle`, nothing when one went out within a minute. */
  verification(user: MailUser, opts?: { throttle?: boolean }): void;
  /** "Someone tried to sign up with your address." */
  signupExisting(email: string): void;
  /** A password-reset link (ends the earlier ones). */
  passwordReset(user: MailUser): void;
  /** "Your password was reset." */
  passwordChanged(email: string): void;
  /** "Two-step sign-in was turned on / off." */
  secondFactorChanged(email: string, change: "enabled" | "disabled"): void;
}

/** Builds the recovery mails over the mailer. */
export function createRecoveryMail(deps: Deps, mailer: Mailer): RecoveryMail {
  const { db, clock, config } = deps;
  const appUrl = config.mail.appUrl;
  const forgotLink = `${appUrl}/forgot-password`;

  async function linkFor(user: MailUser, purpose: EmailTokenPurpose, ttlMs: number, path: string): Promise<string> {
    const { token, hash } = newEmailToken();
    const now = clock();
    await issueEmailToken(db.kysely, {
      userId: user.id,
      purpose,
      tokenHash: hash,
      emailNormalized: user.emailNormalized,
      now,
      expiresAt: new Date(now.getTime() + ttlMs),
      supersede: purpose === "password_reset",
    });
    return `${appUrl}/${path}?token=${token}`;
  }

  return {
    verification(user, opts = {}) {
      mailer.enqueue("verify-email", async () => {
        if (opts.throttle && (await emailTokenIssuedSince(db.kysely, user.id, "verify_email", new Date(clock().getTime() - RESEND_INTERVAL_MS))))
          return undefined;
        const link = await linkFor(user, "verify_email", VERIFY_EMAIL_TTL_MS, "verify-email");
        return { to: user.email, kind: "verify-email", vars: { email: user.email, link } };
      });
    },
    signupExisting(email) {
      mailer.enqueue("signup-existing", async () => ({ to: email, kind: "signup-existing", vars: { email, forgotLink } }));
    },
    passwordReset(user) {
      mailer.enqueue("password-reset", async () => {
        const link = await linkFor(user, "password_reset", PASSWORD_RESET_TTL_MS, "reset-password");
        return { to: user.email, kind: "password-reset", vars: { email: user.email, link } };
      });
    },
    passwordChanged(email) {
      mailer.enqueue("password-changed", async () => ({ to: email, kind: "password-changed", vars: { email, forgotLink } }));
    },
    secondFactorChanged(email, change) {
      const kind = change === "enabled" ? "mfa-enabled" : "mfa-disabled";
      mailer.enqueue(kind, async () => ({ to: email, kind, vars: { email, forgotLink } }));
    },
  };
}
