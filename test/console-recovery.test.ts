/**
 * Account recovery end to end (issue 18) in real Chromium with mail captured by a real
 * SMTP server: sign up in the console → mail → follow the link → sign in; forgot
 * password → mail → reset in the console → the old sessions are dead → sign in with the
 * new password. The links' tokens leave the address bar at once and never reach the logs.
 */
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { linkToken, useSmtpSink, useTessera, type CapturedMail } from "./harness.js";
import { launchChromium } from "./helpers/chromium.js";
import { msUntilRejected } from "./helpers/server.js";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "an entirely new passphrase 31";

describe("account recovery in the console", () => {
  const sink = useSmtpSink();
  const t = useTessera({
    env: () => ({
      AUTH_MODE: "full",
      AUTH_REQUIRE_VERIFIED_EMAIL: "true",
      SMTP_URL: sink.url,
      SMTP_FROM: "auth@example.test",
      TESSERA_APP_URL: "https://app.example.test/console",
    }),
  });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const tokensSeen: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a mailed link on this server (the mail names TESSERA_APP_URL; the path and token are the mail's). */
  async function follow(mail: CapturedMail, path: string): Promise<void> {
    const token = linkToken(mail, path);
    tokensSeen.push(token);
    expect(mail.text).toContain(`https://app.example.test/console${path}?token=${token}`);
    await page.goto(`${t.baseUrl}/console${path}?token=${token}`);
  }

  async function signIn(email: string, password: string): Promise<void> {
    await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
    await page.fill("#email", email);
    await page.fill("#password", password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }

  it("sign up → mail → verify → sign in", async () => {
    const email = `browser-${randomBytes(4).toString("hex")}@example.com`;
    await page.goto(`${t.baseUrl}/console/`);
    await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("check your email").waitFor();
    // Before verifying: the right password is refused, with an offer to resend.
    await signIn(email, PASSWORD);
    await expect.poll(() => page.getByTestId("signin-error").textContent()).toContain("email address not verified");
    await page.getByTestId("resend-verification").waitFor();

    await follow(await sink.waitFor((m) => m.to === email && m.subject === "Confirm your email address"), "/verify-email");
    await page.getByText("Your email address is confirmed").waitFor();
    expect(page.url()).not.toContain("token=");
    await signIn(email, PASSWORD);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.evaluate(() => sessionStorage.clear());
  });

  it("forgot password → mail → reset → old sessions dead → sign in with the new password", async () => {
    // A verified user with a session signed in from Node.
    const email = `reset-${randomBytes(4).toString("hex")}@example.com`;
    await t.client(AuthService).signUp({ email, password: PASSWORD });
    await follow(await sink.waitFor((m) => m.to === email && m.subject === "Confirm your email address"), "/verify-email");
    await page.getByText("Your email address is confirmed").waitFor();
    const old = await t.client(AuthService).login({ email, password: PASSWORD });

    await page.goto(`${t.baseUrl}/console/`);
    await page.getByTestId("forgot-password").click();
    await page.getByRole("heading", { name: "Reset your password" }).waitFor();
    await page.fill("#email", email);
    await page.getByRole("button", { name: "Send the link" }).click();
    await page.getByTestId("recovery-done").waitFor();

    await follow(await sink.waitFor((m) => m.to === email && m.subject === "Reset your password"), "/reset-password");
    await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
    expect(page.url()).not.toContain("token=");
    await page.fill("#new-password", NEW_PASSWORD);
    await page.fill("#new-password-again", NEW_PASSWORD);
    await page.getByRole("button", { name: "Set the password" }).click();
    await page.getByText("Your password was changed").waitFor();

    expect(await msUntilRejected(t.server, old.tokens!.accessToken)).toBeLessThan(3000);
    await signIn(email, NEW_PASSWORD);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await sink.waitFor((m) => m.to === email && m.subject === "Your password was reset");
  });

  it("writes no link token to the server log, and the pages raised no error", () => {
    expect(tokensSeen.length).toBeGreaterThanOrEqual(2);
    const logs = t.logs.join("\n");
    for (const token of tokensSeen) expect(logs).not.toContain(token);
    expect(logs).not.toContain(NEW_PASSWORD);
    expect(pageErrors).toEqual([]);
  });
});
