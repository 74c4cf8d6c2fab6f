/**
 * Shutdown drains the mail queue (issue 18), over real SMTP on PostgreSQL and PGlite:
 * closing the app stops taking mail and waits up to MAIL_DRAIN_TIMEOUT_MS for queued and
 * in-flight messages. A slow relay still gets every mail (the sign-up links among them
 * are stored and valid); a relay that never answers cannot hold the shutdown past the
 * bound, and what is dropped is logged by count and kind, never by address or link.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DB_KINDS, linkToken, useSmtpSink, useTessera } from "./harness.js";
import { startSilentSmtpServer } from "./helpers/smtp-sink.js";

const APP_URL = "https://app.example.test";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const logLine = (logs: string[], msg: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);

describe.each(DB_KINDS)("mail drain at shutdown on %s", (kind) => {
  const sink = useSmtpSink();
  const env = () => ({ AUTH_MODE: "full", SMTP_FROM: "auth@example.test", TESSERA_APP_URL: APP_URL, SMTP_URL: sink.url });
  const t = useTessera({ db: kind, env, forwardedFor: true, server: false });

  it("delivers every queued and in-flight mail before close returns, from a relay slow to answer", async () => {
    const s = await t.startServer({ env: { ...env(), MAIL_DRAIN_TIMEOUT_MS: "20000" } });
    sink.delay(400);
    try {
      // Sign-ups queue verification mail whose tokens the worker stores (during the drain, for some).
      const users = [];
      for (let i = 0; i < 2; i++) users.push(await t.signUp({ server: s, verified: false }));
      // Queued just before close: no relay answer (400 ms each, one at a time) can have come yet.
      const late = [1, 2, 3].map((i) => `drain-${i}-${Date.now()}@example.com`);
      for (const to of late)
        expect(
          s.app.mailer.enqueue("password-changed", async () => ({
            to,
            kind: "password-changed",
            vars: { email: to, forgotLink: `${APP_URL}/forgot-password` },
          })),
        ).toBe(true);
      await s.close();
      // Close has returned: everything is at the relay already, nothing to wait for.
      for (const to of late) expect(sink.mails.some((m) => m.to === to)).toBe(true);
      for (const u of users) {
        const mail = sink.mails.find((m) => m.to === u.email);
        expect(mail, u.email).toBeDefined();
        const row = await t.database.db.kysely
          .selectFrom("email_tokens")
          .select("user_id")
          .where("token_hash", "=", sha256(linkToken(mail!, "/verify-email")))
          .executeTakeFirst();
        expect(row?.user_id).toBe(u.userId);
      }
      const drained = logLine(s.logs, "mail queue drained at shutdown");
      expect(drained?.dropped).toBe(0);
      expect(drained?.pending_at_shutdown).toBeGreaterThanOrEqual(late.length);
      expect(s.logs.some((l) => l.includes("shutdown drain ended"))).toBe(false);
      // A mail asked for after close is refused, not queued.
      expect(s.app.mailer.enqueue("password-changed", async () => undefined)).toBe(false);
    } finally {
      sink.delay(0);
    }
  }, 60_000);

  it("returns within MAIL_DRAIN_TIMEOUT_MS from a relay that never answers, and logs how many mails were dropped without their addresses or links", async () => {
    const silent = await startSilentSmtpServer();
    try {
      // SMTP's own timeout (60 s) would hold the shutdown for a minute: the drain bound must end it first.
      const s = await t.startServer({ env: { ...env(), SMTP_URL: silent.url, SMTP_TIMEOUT_MS: "60000", MAIL_DRAIN_TIMEOUT_MS: "500" } });
      const user = await t.signUp({ server: s, verified: false });
      const secret = "https://app.example.test/reset-password?token=never-logged-link";
      for (let i = 0; i < 3; i++) {
        const to = `lost-${i}@example.com`;
        s.app.mailer.enqueue("password-reset", async () => ({ to, kind: "password-reset", vars: { email: to, link: secret } }));
      }
      // The verification mail is in flight: its SMTP connection is open and waits for a greeting.
      for (let i = 0; silent.connections() === 0; i++) {
        if (i > 500) throw new Error("the mailer never connected");
        await new Promise((res) => setTimeout(res, 20));
      }
      const start = performance.now();
      await s.close();
      const took = performance.now() - start;
      expect(took).toBeGreaterThanOrEqual(490);
      expect(took).toBeLessThan(20_000);
      const line = s.logs.find((l) => l.includes("shutdown drain ended"));
      expect(line).toBeDefined();
      const fields = JSON.parse(line!) as Record<string, unknown>;
      expect(fields.dropped).toBe(4);
      expect(fields.dropped_kinds).toEqual({ "verify-email": 1, "password-reset": 3 });
      expect(fields.level).toBe(40);
      expect(line).not.toMatch(/@|token=|lost-|never-logged/);
      expect(line).not.toContain(user.email);
      // The connection dies now: the in-flight delivery fails and is not tried again after the drain.
      await silent.close();
      await s.app.mailer.idle();
      expect(s.logs.some((l) => l.includes("trying again"))).toBe(false);
    } finally {
      await silent.close();
    }
  }, 60_000);
});
