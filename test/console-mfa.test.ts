/**
 * Two-factor authentication in the console (issue 18) in real headless Chromium against
 * the real server: sign up → enrol TOTP (a QR code; the secret read from the page, the
 * codes computed here as an authenticator app would) → 10 recovery codes shown once →
 * sign out → sign in with the password and a code (a wrong one first) → the Sessions page
 * marks the session 2FA → sign out → sign in with a recovery code → sign out → the same
 * recovery code is refused → status shows 9 left → new recovery codes → turn it off.
 * Screenshots go to test-artifacts/console/.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { qrPath } from "../packages/server/src/console/web/pages/two-factor/qr.js";
import { launchChromium } from "./helpers/chromium.js";
import { freshTotp, totp } from "./helpers/totp.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const shots = path.join(root, "test-artifacts", "console");
const PASSWORD = "correct horse battery staple";
const RECOVERY_RE = /^[0-9a-z]{5}-[0-9a-z]{5}$/;

describe("two-factor authentication in the console", () => {
  const t = useTessera({ env: { AUTH_MODE: "full", MFA_ENCRYPTION_KEY: randomBytes(32).toString("base64") } });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const email = `mfa-${randomBytes(4).toString("hex")}@example.com`;
  const used = new Set<number>();
  let secret = "";
  let recoveryCodes: string[] = [];

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const status = () => page.getByTestId("mfa-status");

  async function openTwoFactor(): Promise<void> {
    await page.getByRole("link", { name: "Two-factor" }).click();
    await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
  }

  async function signOut(): Promise<void> {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
  }

  async function password(): Promise<void> {
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByTestId("mfa-step").waitFor();
  }

  it("enrols: QR code and secret on the page, a computed code turns it on, 10 recovery codes shown once", async () => {
    await page.goto(`${t.baseUrl}/console/`);
    await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();

    await openTwoFactor();
    expect(await status().getAttribute("data-enabled")).toBe("false");
    // Setting up asks for the password first: a wrong one is refused in the form, no secret shown.
    await page.fill("#enrol-password", `${PASSWORD}-not`);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    await expect.poll(() => page.locator("form .error").textContent()).toMatch(/current password is incorrect/);
    expect(await page.getByTestId("totp-secret").count()).toBe(0);
    await page.fill("#enrol-password", PASSWORD);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    const qr = page.getByTestId("totp-qr").locator("svg");
    await qr.waitFor();
    secret = (await page.getByTestId("totp-secret").getAttribute("data-secret")) ?? "";
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    // The QR code is the otpauth:// URI of this secret, module for module.
    const uri = (await page.getByTestId("totp-qr").getAttribute("data-otpauth-uri")) ?? "";
    expect(uri).toMatch(new RegExp(`^otpauth://totp/[^?]+\\?(.*&)?secret=${secret}(&|$)`));
    expect(decodeURIComponent(uri)).toContain(email);
    expect(await qr.locator("path").getAttribute("d")).toBe(qrPath(uri).d);
    // The text shown is the same secret, grouped for typing.
    expect((await page.getByTestId("totp-secret").textContent())?.replace(/\s+/g, "")).toBe(secret);
    await shot("mfa-enrol");

    // A wrong code is refused in the form; the enrolment stays.
    const wrong = ["000000", "111111", "222222"].find((c) => ![-1, 0, 1, 2].some((o) => totp(secret, t.clock.now().getTime(), o) === c))!;
    await page.fill("#totp-code", wrong);
    await page.getByRole("button", { name: "Turn on" }).click();
    await expect.poll(() => page.locator("form .error").textContent()).not.toBe("");
    await page.fill("#totp-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByTestId("recovery-codes").waitFor();
    recoveryCodes = (await page.getByTestId("recovery-codes").locator("li").allTextContents()).map((c) => c.trim());
    expect(recoveryCodes).toHaveLength(10);
    for (const c of recoveryCodes) expect(c).toMatch(RECOVERY_RE);
    await shot("mfa-recovery-codes");
    await page.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => status().getAttribute("data-enabled")).toBe("true");
    expect(await status().getAttribute("data-remaining")).toBe("10");
    // Shown once: nothing on the page holds them any more.
    expect(await page.content()).not.toContain(recoveryCodes[0]!);
  }, 120_000);

  it("sign out → password → a wrong code is refused → the right code signs in; the session is marked 2FA", async () => {
    await signOut();
    await password();
    await shot("mfa-sign-in-code");
    const wrong = ["000000", "111111", "222222"].find((c) => ![-1, 0, 1, 2].some((o) => totp(secret, t.clock.now().getTime(), o) === c))!;
    await page.fill("#mfa-code", wrong);
    await page.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => page.getByTestId("mfa-error").textContent()).toContain("wrong code");
    await page.fill("#mfa-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();

    await page.getByRole("link", { name: "Sessions" }).click();
    const current = page.getByTestId("sessions-table").locator("tr", { hasText: "this one" });
    await current.waitFor();
    expect(await current.getAttribute("data-assurance-level")).toBe("2");
    expect(await current.getAttribute("data-amr")).toContain("otp");
    expect(await current.getByTestId("mfa-badge").textContent()).toBe("2FA");
    await shot("mfa-sessions");
  }, 120_000);

  it("sign out → password → a recovery code signs in; sign out → the same code is refused; 9 left", async () => {
    await signOut();
    await password();
    await page.getByTestId("use-recovery-code").click();
    await page.fill("#recovery-code", recoveryCodes[0]!);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();

    await signOut();
    await password();
    await page.getByTestId("use-recovery-code").click();
    await page.fill("#recovery-code", recoveryCodes[0]!);
    await page.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => page.getByTestId("mfa-error").textContent()).toContain("wrong code");
    await page.getByTestId("use-recovery-code").click(); // back to the app's code
    await page.fill("#mfa-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();

    await openTwoFactor();
    await expect.poll(() => status().getAttribute("data-remaining")).toBe("9");
    expect(await status().textContent()).toContain("9 recovery codes left");
    await shot("mfa-status");
  }, 120_000);

  it("new recovery codes replace the old ones; turning it off needs the password and a code", async () => {
    await page.fill("#regenerate-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "New recovery codes" }).click();
    await page.getByTestId("recovery-codes").waitFor();
    const fresh = (await page.getByTestId("recovery-codes").locator("li").allTextContents()).map((c) => c.trim());
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recoveryCodes[1]);
    await page.getByRole("button", { name: "Done" }).click();
    await expect.poll(() => status().getAttribute("data-remaining")).toBe("10");

    await page.fill("#disable-password", PASSWORD);
    await page.fill("#disable-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Turn off two-factor authentication" }).click();
    await expect.poll(() => status().getAttribute("data-enabled")).toBe("false");
    await signOut();
    await page.fill("#email", email);
    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expect(pageErrors).toEqual([]);
  }, 150_000);
});
