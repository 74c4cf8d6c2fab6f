/**
 * Outgoing mail (issue 18), always off the request path: a handler enqueues a job (a
 * function that prepares the mail, e.g. stores a token and renders a link) and returns;
 * one worker runs the jobs in order and delivers over SMTP (nodemailer) with a timeout
 * on every step and 3 retries with backoff. The queue is bounded: a job over the bound
 * is dropped and logged (its kind only, never an address, link or token).
 *
 * Shutdown drains the queue: `close()` refuses new jobs, lets the worker finish the
 * queued and in-flight ones for up to MAIL_DRAIN_TIMEOUT_MS (a retry that would end
 * after that bound is not tried), then drops what is left and logs how many, by kind.
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
  /**
   * Stops taking jobs, waits up to `graceMs` (default MAIL_DRAIN_TIMEOUT_MS) for the queued
   * and in-flight ones, logs how many were dropped, and closes the SMTP connection.
   */
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
  /** The job the worker is on (being prepared or delivered). */
  let current: MailKind | undefined;
  let closed = false;
  /** While draining at shutdown: when the drain ends (no retry may end after it). */
  let deadline: number | undefined;
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
        if (delay === undefined || (deadline !== undefined && Date.now() + delay >= deadline)) {
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
      current = next.kind;
      try {
        const mail = await next.job();
        if (mail) await deliver(mail);
      } catch (e) {
        logger.error({ mail_kind: next.kind, err: { message: (e as Error).message } }, "could not prepare a mail");
      }
      current = undefined;
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
    async close(graceMs = config.drainTimeoutMs) {
      if (closed) return;
      closed = true;
      const pending = queue.length + (current === undefined ? 0 : 1);
      deadline = Date.now() + graceMs;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle(), new Promise((res) => (timer = setTimeout(res, graceMs)))]);
      clearTimeout(timer);
      // Counts and kinds only: never an address, link or token.
      const left = [...queue.map((q) => q.kind), ...(current === undefined ? [] : [current])];
      queue.length = 0;
      if (left.length > 0) {
        const kinds: Partial<Record<MailKind, number>> = {};
        for (const k of left) kinds[k] = (kinds[k] ?? 0) + 1;
        logger.warn(
          { dropped: left.length, dropped_kinds: kinds, pending_at_shutdown: pending, drain_timeout_ms: graceMs },
          "shutdown drain ended before every mail was delivered: the rest was dropped",
        );
      } else if (pending > 0) logger.info({ dropped: 0, pending_at_shutdown: pending }, "mail queue drained at shutdown");
      transport?.close();
    },
  };
}
