/**
 * Declarations of the email variables (issue 18): SMTP delivery, the sender, where
 * links point, message templates, and whether sign-in needs a verified address.
 */
import { bool, httpUrl, int, smtpUrl, text } from "./parse.js";
import { variable } from "./variable.js";

/** The email variables, by name. */
export const EMAIL_VARIABLES = {
  NODE_ENV: variable({
    name: "NODE_ENV",
    section: "email",
    parser: text(),
    default: undefined,
    defaultText: "unset: development",
    description:
      "`production` (any other value: development): a flow that needs email (sign-up verification, password reset: full mode with passwords on) without `SMTP_URL` stops startup; otherwise such mail is written to the log instead of sent",
  }),
  SMTP_URL: variable({
    name: "SMTP_URL",
    section: "email",
    parser: smtpUrl(),
    default: undefined,
    defaultText: "unset: mail is logged, not sent (refused at startup in production)",
    secret: true,
    description:
      "SMTP server for outgoing mail: `smtps://user:pass@host:465` (TLS from the start) or `smtp://user:pass@host:587` (STARTTLS when the server offers it; `?requireTLS=true` to insist)",
  }),
  SMTP_FROM: variable({
    name: "SMTP_FROM",
    section: "email",
    parser: text(),
    default: undefined,
    defaultText: "required with `SMTP_URL`",
    description: "sender of every mail, `Name <address>` or an address",
  }),
  SMTP_TIMEOUT_MS: variable({
    name: "SMTP_TIMEOUT_MS",
    section: "email",
    parser: int(1000, 120_000),
    default: 10_000,
    description:
      "limit on connecting, the greeting and each later step of one SMTP delivery; a delivery that fails is tried again 3 times with backoff (2, 4, 8 s)",
  }),
  MAIL_QUEUE_SIZE: variable({
    name: "MAIL_QUEUE_SIZE",
    section: "email",
    parser: int(1, 100_000),
    default: 1000,
    description: "mails waiting for delivery at most; a mail over it is dropped and logged (without its content)",
  }),
  MAIL_DRAIN_TIMEOUT_MS: variable({
    name: "MAIL_DRAIN_TIMEOUT_MS",
    section: "email",
    parser: int(0, 600_000),
    default: 10_000,
    description:
      "at shutdown (SIGTERM/SIGINT, after in-flight requests), how long queued and in-flight mail may still be delivered; what is left then is dropped and its count logged (see [account-recovery.md](account-recovery.md#mail-delivery))",
  }),
  MAIL_TEMPLATES_DIR: variable({
    name: "MAIL_TEMPLATES_DIR",
    section: "email",
    parser: text(),
    default: undefined,
    defaultText: "unset: the built-in messages",
    description:
      "folder of message overrides: `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html` for the kinds in [account-recovery.md](account-recovery.md#templates); read at startup",
  }),
  TESSERA_APP_URL: variable({
    name: "TESSERA_APP_URL",
    section: "email",
    parser: httpUrl(),
    default: undefined,
    defaultText: "`TESSERA_PUBLIC_URL` + `/console`",
    description:
      "where links in mail point: `<url>/verify-email?token=...` and `<url>/reset-password?token=...` (the console serves both pages; an app of your own can too)",
  }),
  AUTH_REQUIRE_VERIFIED_EMAIL: variable({
    name: "AUTH_REQUIRE_VERIFIED_EMAIL",
    section: "email",
    parser: bool(),
    default: false,
    description:
      "password users sign in only after following the verification link: `SignUp` answers without tokens (the same for a taken email) and `Login` of an unverified user answers FailedPrecondition",
  }),
} as const;
