/**
 * Outgoing mail (issue 18), always off the request path: a handler enqueues a job (a
 * function that prepares the mail, e.g. stores a token and renders a link) and returns;
 * one worker runs the jobs in order and delivers over SMTP (nodemailer) with a timeout
 * on every step and 3 retries with backoff. The queue is bounded: a job over the bound
 * is dropped and logged (its kind only, never an address, link or token).
 *
 * Without SMTP_URL (development; production refuses to start when a flow needs mail)
 * the message is written to the log at `info`, link included: the one place a link
 * appears in logs.
 */
import { createTransport } from "nodemailer";
import type { MailConfig } from "../config/config.js";
import type { Logger } from "../lib/logger.js";
import { loadTemplates, type MailKind } from "./templates.js";

/** One mail to send: the recipient, its kind and the values of its placeholders. */
interface OutgoingMail {
  to: string;
  kind: MailKind;
  vars: Readonly<Record<string, string>>;
}

/** Prepares a mail in the background; undefined: nothing to send after all. */
type MailJob = () => Promise<OutgoingMail | undefined>;

export interface Mailer {
  /** Queues a job; false (and a log line) when the queue is full. Never waits, never throws. */
  enqueue(kind: MailKind, job: MailJob): boolean;
  /** Resolves once every queued job has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops taking jobs, waits up to `graceMs` for the queue, and closes the SMTP connection. */
  close(graceMs?: number): Promise<void>;
}

export interface MailerOptions {
  config: MailConfig;
  logger: Logger;
  /** Delays before each retry (default 2, 4 and 8 s). */
  retryDelaysMs?: readonly number[];
}

/** Builds the mailer. */
export function createMailer(opts: MailerOptions): Mailer {
  const { config, logger } = opts;
  const retryDelays = opts.retryDelaysMs ?? [2000, 4000, 8000];
  const templates = loadTemplates(config.templatesDir);
  const transport =
    config.smtpUrl === undefined
      ? undefined
      : createTransport({
          url: config.smtpUrl,
          connectionTimeout: config.timeoutMs,
          greetingTimeout: config.timeoutMs,
          socketTimeout: config.timeoutMs,
          dnsTimeout: config.timeoutMs,
        });
  const queue: { kind: MailKind; job: MailJob }[] = [];
  let running: Promise<void> | undefined;
  let closed = false;
  const waiters = new Set<() => void>();

  async function deliver(mail: OutgoingMail): Promise<void> {
    const rendered = templates.render(mail.kind, mail.vars);
    if (!transport) {
      if (config.production) logger.warn({ mail_kind: mail.kind }, "mail not sent: SMTP_URL is unset");
      // Development only: the message, link included, so the flows can be tried without SMTP.
      else logger.info({ mail: { to: mail.to, subject: rendered.subject, text: rendered.text } }, "mail not sent (SMTP_URL unset); its text follows");
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await transport.sendMail({ from: config.from, to: mail.to, subject: rendered.subject, text: rendered.text, html: rendered.html });
        return;
      } catch (e) {
        const err = e as { code?: unknown; responseCode?: unknown };
        const delay = retryDelays[attempt];
        // SMTP errors carry codes, not content: safe to log.
        const fields = { mail_kind: mail.kind, attempt: attempt + 1, err: { code: err.code, responseCode: err.responseCode } };
        if (delay === undefined || closed) {
          logger.error(fields, "mail delivery failed; giving up");
          return;
        }
        logger.warn(fields, "mail delivery failed; trying again");
        await new Promise((res) => setTimeout(res, delay));
      }
    }
  }

  async function drain(): Promise<void> {
    for (let next = queue.shift(); next; next = queue.shift()) {
      try {
        const mail = await next.job();
        if (mail) await deliver(mail);
      } catch (e) {
        logger.error({ mail_kind: next.kind, err: { message: (e as Error).message } }, "could not prepare a mail");
      }
    }
    running = undefined;
    for (const w of waiters) w();
    waiters.clear();
  }

  function idle(): Promise<void> {
    if (!running) return Promise.resolve();
    return new Promise<void>((res) => waiters.add(res));
  }

  return {
    enqueue(kind, job) {
      if (closed || queue.length >= config.queueSize) {
        logger.error({ mail_kind: kind, queue_size: config.queueSize }, closed ? "mail dropped: shutting down" : "mail dropped: the mail queue is full");
        return false;
      }
      queue.push({ kind, job });
      // After the current I/O turn: the request's answer is written before the job's work starts.
      running ??= new Promise((res) => setImmediate(res)).then(drain);
      return true;
    },
    idle,
    async close(graceMs = 5000) {
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise((res) => (timer = setTimeout(res, graceMs)))]);
      clearTimeout(timer);
      if (queue.length > 0) logger.warn({ dropped: queue.length }, "mails still queued at shutdown were dropped");
      queue.length = 0;
      transport?.close();
    },
  };
}
