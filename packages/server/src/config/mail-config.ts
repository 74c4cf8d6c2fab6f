/**
 * The email settings (issue 18): SMTP delivery, where links point, templates, and the
 * production rule: a flow that needs email (verification and password reset exist
 * whenever password sign-in is on in full mode) without SMTP_URL stops startup there.
 */
import { ConfigError } from "./config-error.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** Outgoing mail. */
export interface MailConfig {
  /** The SMTP server; undefined: mail is written to the log (development only). */
  smtpUrl: string | undefined;
  /** The sender of every mail. */
  from: string;
  /** Limit on each step of one SMTP delivery. */
  timeoutMs: number;
  /** Mails waiting for delivery at most. */
  queueSize: number;
  /** At shutdown, how long queued and in-flight mail may still be delivered. */
  drainTimeoutMs: number;
  /** Folder of template overrides. */
  templatesDir: string | undefined;
  /** Base of the links in mail (no trailing slash). */
  appUrl: string;
  /** True when NODE_ENV=production. */
  production: boolean;
}

/** Reads the mail settings; `emailFlows` says whether any flow needs email (full mode with passwords). */
export function mailConfig(env: Env, publicUrl: string, emailFlows: boolean): MailConfig {
  const production = read(env, V.NODE_ENV) === "production";
  const smtpUrl = read(env, V.SMTP_URL);
  const from = read(env, V.SMTP_FROM);
  if (smtpUrl !== undefined && from === undefined) throw new ConfigError("SMTP_FROM", "required with SMTP_URL");
  if (production && emailFlows && smtpUrl === undefined) {
    throw new ConfigError(
      "SMTP_URL",
      "required in production (NODE_ENV=production): email verification and password reset send mail (or turn password sign-in off with AUTH_DISABLE_PASSWORD=true)",
    );
  }
  return {
    smtpUrl,
    from: from ?? "Tessera <no-reply@localhost>",
    timeoutMs: read(env, V.SMTP_TIMEOUT_MS),
    queueSize: read(env, V.MAIL_QUEUE_SIZE),
    drainTimeoutMs: read(env, V.MAIL_DRAIN_TIMEOUT_MS),
    templatesDir: read(env, V.MAIL_TEMPLATES_DIR),
    appUrl: read(env, V.TESSERA_APP_URL) ?? `${publicUrl}/console`,
    production,
  };
}
