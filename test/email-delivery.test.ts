/**
 * Mail delivery (issue 18): over real SMTP (a server started in the test), off the
 * request path through a bounded queue, with retries, templates overridable by files,
 * the development fallback to the log, and the production rule at startup.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../packages/server/src/config/config.js";
import { createLogger } from "../packages/server/src/lib/logger.js";
import { createMailer } from "../packages/server/src/mail/mailer.js";
import { startSmtpSink, type SmtpSink } from "./helpers/smtp-sink.js";

function collectingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(l);
      cb();
    },
  });
  return { lines, logger: createLogger({ json: true, level: "debug", destination }) };
}

const mailConfig = (env: Record<string, string>) => loadConfig({ AUTH_MODE: "full", ...env }).mail;

describe("mail delivery", () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });

  it("delivers text and HTML over SMTP from SMTP_FROM, with placeholders filled (escaped in HTML)", async () => {
    const { logger } = collectingLogger();
    const mailer = createMailer({ config: mailConfig({ SMTP_URL: sink.url, SMTP_FROM: "Tessera <auth@example.test>" }), logger });
    const to = "ada@example.com";
    expect(
      mailer.enqueue("verify-email", async () => ({ to, kind: "verify-email", vars: { email: to, link: "https://app.example/verify-email?token=a<b" } })),
    ).toBe(true);
    const mail = await sink.waitFor((m) => m.to === to);
    expect(mail.from).toBe('"Tessera" <auth@example.test>');
    expect(mail.subject).toBe("Confirm your email address");
    expect(mail.text).toContain("https://app.example/verify-email?token=a<b");
    expect(mail.html).toContain("token=a&#60;b");
    await mailer.close();
  });

  it("never keeps the request waiting: enqueue returns before the SMTP server answers, and a failed delivery is retried with backoff", async () => {
    const { lines, logger } = collectingLogger();
    const mailer = createMailer({ config: mailConfig({ SMTP_URL: sink.url, SMTP_FROM: "auth@example.test" }), logger, retryDelaysMs: [50, 100, 200] });
    sink.failNext(2);
    const to = `retry-${Date.now()}@example.com`;
    const start = performance.now();
    mailer.enqueue("password-reset", async () => ({ to, kind: "password-reset", vars: { email: to, link: "https://x/reset-password?token=t" } }));
    expect(performance.now() - start).toBeLessThan(20);
    await sink.waitFor((m) => m.to === to);
    expect(sink.refused()).toBeGreaterThanOrEqual(2);
    logger.flush(); // lines come up to LINGER_MS late otherwise (lib/line-writer.ts)
    const retries = lines.filter((l) => l.includes("mail delivery failed; trying again"));
    expect(retries).toHaveLength(2);
    // Failures are logged by kind and SMTP code only: no address, link or token.
    for (const l of retries) expect(l).not.toMatch(/retry-|token=|example\.com/);
    await mailer.close();
  });

  it("gives up after 3 retries, and times out an SMTP server that never answers", async () => {
    const { lines, logger } = collectingLogger();
    // A listening socket that never greets: the greeting timeout ends each attempt.
    const net = await import("node:net");
    const silent = net.createServer(() => {});
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
    const port = (silent.address() as { port: number }).port;
    const mailer = createMailer({
      config: mailConfig({ SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: "auth@example.test", SMTP_TIMEOUT_MS: "1000" }),
      logger,
      retryDelaysMs: [10, 10, 10],
    });
    const start = performance.now();
    mailer.enqueue("password-changed", async () => ({ to: "x@example.com", kind: "password-changed", vars: { email: "x@example.com" } }));
    await mailer.idle();
    const took = performance.now() - start;
    logger.flush(); // lines come up to LINGER_MS late otherwise (lib/line-writer.ts)
    expect(lines.filter((l) => l.includes("trying again"))).toHaveLength(3);
    expect(lines.some((l) => l.includes("giving up"))).toBe(true);
    // 4 attempts of about 1 s each (the timeout), not the OS's minutes.
    expect(took).toBeGreaterThan(3500);
    expect(took).toBeLessThan(15_000);
    await mailer.close();
    silent.close();
  }, 30_000);

  it("bounds the queue: a mail over MAIL_QUEUE_SIZE is dropped and logged without its content", async () => {
    const { lines, logger } = collectingLogger();
    const mailer = createMailer({ config: mailConfig({ SMTP_URL: sink.url, SMTP_FROM: "auth@example.test", MAIL_QUEUE_SIZE: "2" }), logger });
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const job = (to: string) => async () => {
      await gate;
      return { to, kind: "verify-email" as const, vars: { email: to, link: "https://x/verify-email?token=secret-link" } };
    };
    // The first is taken by the worker at once; two more fill the queue; the fourth is dropped.
    expect(mailer.enqueue("verify-email", job("q1@example.com"))).toBe(true);
    await new Promise((res) => setImmediate(res));
    expect(mailer.enqueue("verify-email", job("q2@example.com"))).toBe(true);
    expect(mailer.enqueue("verify-email", job("q3@example.com"))).toBe(true);
    expect(mailer.enqueue("verify-email", job("q4@example.com"))).toBe(false);
    logger.flush(); // lines come up to LINGER_MS late otherwise (lib/line-writer.ts)
    const dropped = lines.filter((l) => l.includes("the mail queue is full"));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).not.toMatch(/q4|secret-link/);
    release();
    await mailer.idle();
    expect(sink.mails.map((m) => m.to).filter((t) => t.startsWith("q"))).toEqual(["q1@example.com", "q2@example.com", "q3@example.com"]);
    await mailer.close();
  });

  it("reads template overrides from MAIL_TEMPLATES_DIR, keeping the built-in parts it does not override", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-templates-"));
    writeFileSync(path.join(dir, "password-reset.subject.txt"), "Acme: new password for {{email}}\n");
    writeFileSync(path.join(dir, "password-reset.txt"), "Go to {{link}} (Acme)\n");
    const { logger } = collectingLogger();
    const mailer = createMailer({ config: mailConfig({ SMTP_URL: sink.url, SMTP_FROM: "auth@example.test", MAIL_TEMPLATES_DIR: dir }), logger });
    const to = "tpl@example.com";
    mailer.enqueue("password-reset", async () => ({ to, kind: "password-reset", vars: { email: to, link: "https://acme/reset-password?token=z" } }));
    const mail = await sink.waitFor((m) => m.to === to);
    expect(mail.subject).toBe("Acme: new password for tpl@example.com");
    expect(mail.text.trim()).toBe("Go to https://acme/reset-password?token=z (Acme)");
    expect(mail.html).toContain("Choose a new password");
    await mailer.close();
  });

  it("without SMTP_URL in development, writes the message with its link to the log instead", async () => {
    const { lines, logger } = collectingLogger();
    const mailer = createMailer({ config: mailConfig({}), logger });
    mailer.enqueue("verify-email", async () => ({
      to: "dev@example.com",
      kind: "verify-email",
      vars: { email: "dev@example.com", link: "http://127.0.0.1:8080/console/verify-email?token=devlink" },
    }));
    await mailer.idle();
    logger.flush(); // lines come up to LINGER_MS late otherwise (lib/line-writer.ts)
    const line = lines.find((l) => l.includes("mail not sent (SMTP_URL unset)"));
    expect(line).toContain("verify-email?token=devlink");
    await mailer.close();
  });
});

describe("mail settings", () => {
  it("stops startup in production when a flow needs email and SMTP_URL is unset, naming the variable", () => {
    let err: unknown;
    try {
      loadConfig({ AUTH_MODE: "full", NODE_ENV: "production" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe("SMTP_URL");
    // No flow needs mail: password sign-in off, or not full mode.
    expect(() => loadConfig({ AUTH_MODE: "full", NODE_ENV: "production", AUTH_DISABLE_PASSWORD: "true" })).not.toThrow();
    expect(() => loadConfig({ AUTH_MODE: "none", NODE_ENV: "production" })).not.toThrow();
    expect(() => loadConfig({ AUTH_MODE: "full", NODE_ENV: "production", SMTP_URL: "smtps://u:p@mail.example:465" })).toThrow(
      /^SMTP_FROM: required with SMTP_URL$/,
    );
    // A bad URL is refused without echoing it (it may hold a password).
    expect(() => loadConfig({ SMTP_URL: "http://u:hunter2@mail.example" })).toThrow(/^SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL with a host$/);
  });

  it("`tessera serve` in production without SMTP prints one line naming SMTP_URL and exits 2", () => {
    const res = spawnSync(process.execPath, ["packages/server/bin/tessera.js", "serve"], {
      env: { PATH: process.env.PATH, AUTH_MODE: "full", NODE_ENV: "production", TESSERA_DATA_DIR: mkdtempSync(path.join(tmpdir(), "tessera-prod-")) },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(res.status).toBe(2);
    const out = `${res.stdout}${res.stderr}`.trim().split("\n");
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/SMTP_URL: required in production/);
  });
});
