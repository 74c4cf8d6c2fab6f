/**
 * The mail queue across the process's end (issue 18), with the real `tessera serve` and
 * the real SMTP sink: SIGTERM drains it (every queued mail reaches a slow relay, then the
 * process exits 0); kill -9 loses it, and what docs/account-recovery.md tells the user
 * works: a queued reset mail left no token behind, and asking again delivers a working link.
 */
import { createHash } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { AccountRecoveryService } from "../../packages/sdk/src/gen/tessera/v1/account_recovery_pb.js";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { linkToken, useSmtpSink, useTessera } from "../harness.js";
import { startSilentSmtpServer } from "../helpers/smtp-sink.js";
import { startServerProcess } from "./process.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const PASSWORD = "correct horse battery staple";

describe("the mail queue when the process ends", () => {
  const sink = useSmtpSink();
  const t = useTessera({ server: false });
  const env = (smtpUrl: string) => ({ ...t.database.env, AUTH_MODE: "full", SMTP_URL: smtpUrl, SMTP_FROM: "auth@example.test", LOG_LEVEL: "info" });
  const clients = (baseUrl: string) => {
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1" });
    return { auth: createClient(AuthService, transport), recovery: createClient(AccountRecoveryService, transport) };
  };

  it("SIGTERM: every queued mail reaches a relay slow to answer before the process exits 0", async () => {
    const server = await startServerProcess({ ...env(sink.url), MAIL_DRAIN_TIMEOUT_MS: "30000" });
    sink.delay(500);
    try {
      const { auth } = clients(server.baseUrl);
      const emails = [1, 2, 3, 4].map((i) => `sigterm-${i}-${Date.now()}@example.com`);
      for (const email of emails) await auth.signUp({ email, password: PASSWORD, name: "" });
      server.child.kill("SIGTERM");
      const exit = await server.exited;
      expect(exit.code).toBe(0);
      for (const email of emails) expect(sink.mails.some((m) => m.to === email)).toBe(true);
      expect(server.output()).toContain("mail queue drained at shutdown");
      expect(server.output()).not.toContain("shutdown drain ended");
    } finally {
      sink.delay(0);
    }
  }, 120_000);

  it("kill -9: a queued reset mail is lost without a token; asking again delivers a working link", async () => {
    const silent = await startSilentSmtpServer();
    const email = `crash-${Date.now()}@example.com`;
    try {
      const a = await startServerProcess({ ...env(silent.url), SMTP_TIMEOUT_MS: "60000" });
      const { auth, recovery } = clients(a.baseUrl);
      const user = (await auth.signUp({ email, password: PASSWORD, name: "" })).tokens!;
      // The verification mail is in flight (its relay never answers); the reset mail queues behind it.
      await recovery.requestPasswordReset({ email });
      for (let i = 0; silent.connections() === 0; i++) {
        if (i > 500) throw new Error("the server never connected to the relay");
        await new Promise((res) => setTimeout(res, 20));
      }
      a.child.kill("SIGKILL");
      await a.exited;
      const resets = () =>
        t.database.db.kysely
          .selectFrom("email_tokens")
          .select("token_hash")
          .where("user_id", "=", user.userId)
          .where("purpose", "=", "password_reset")
          .execute();
      expect(await resets()).toEqual([]);

      const b = await startServerProcess(env(sink.url));
      try {
        await clients(b.baseUrl).recovery.requestPasswordReset({ email });
        const mail = await sink.waitFor((m) => m.to === email && m.text.includes("/reset-password?token="));
        const token = linkToken(mail, "/reset-password");
        expect((await resets()).map((r) => r.token_hash)).toEqual([sha256(token)]);
        await clients(b.baseUrl).recovery.resetPassword({ token, newPassword: "a brand new passphrase here" });
      } finally {
        b.child.kill("SIGTERM");
        await b.exited;
      }
    } finally {
      await silent.close();
    }
  }, 120_000);
});
