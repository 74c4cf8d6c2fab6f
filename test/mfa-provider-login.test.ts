/**
 * The second factor after a provider sign-in (issue 18, AUTH_MFA_FOR_PROVIDER_LOGINS on by
 * default), against the real server and a real OpenID provider: a user provisioned by the
 * provider (no password) enrols TOTP in the console (headless Chromium); the next provider
 * sign-in comes back to the console's code step, and the session says `fed` + `otp` with
 * the 2FA mark; `tessera login` through the provider takes `--code` the same way; turning
 * TOTP off without a password needs a recovery code and a code.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { useTessera, useTestProvider } from "./harness.js";
import { launchChromium } from "./helpers/chromium.js";
import { freePort } from "./helpers/net.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { outputOf } from "./helpers/tessera-cli.js";
import { freshTotp } from "./helpers/totp.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");

describe("two-factor authentication after a provider sign-in (console and CLI)", () => {
  let port = 0;
  let loginPort = 0;
  let base = "";
  let home = "";
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const used = new Set<number>();
  let secret = "";
  let recoveryCodes: string[] = [];

  beforeAll(async () => {
    // The provider matches redirect URIs exactly: the ports are chosen before it starts.
    port = await freePort();
    loginPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    home = mkdtempSync(path.join(tmpdir(), "tessera-mfa-provider-"));
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }, 120_000);
  const provider = useTestProvider(() => ({ redirectUris: [`${base}/console/callback`, `http://127.0.0.1:${loginPort}/callback`] }));
  const t = useTessera({
    env: () => ({
      PORT: String(port),
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_ALLOWED_REDIRECT_URIS: `${base}/console/callback http://127.0.0.1/callback`,
      MFA_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    }),
  });
  afterAll(async () => {
    await browser?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const providerButton = () => page.getByRole("button", { name: /^Sign in with / });

  it("enrols a provider user in the console; the next provider sign-in asks for the code", async () => {
    await page.goto(`${base}/console/`);
    await providerButton().click();
    await page.getByRole("heading", { name: "API keys" }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "Two-factor" }).click();
    // A provider-only user has no password to give: a fresh sign-in is enough.
    await page.getByRole("button", { name: "Set up authenticator app" }).waitFor();
    expect(await page.locator("#enrol-password").count()).toBe(0);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    secret = (await page.getByTestId("totp-secret").getAttribute("data-secret")) ?? "";
    await page.fill("#totp-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.getByTestId("recovery-codes").waitFor();
    recoveryCodes = (await page.getByTestId("recovery-codes").locator("li").allTextContents()).map((c) => c.trim());
    expect(recoveryCodes).toHaveLength(10);
    await page.getByRole("button", { name: "Done" }).click();

    await page.getByRole("button", { name: "Sign out" }).click();
    await providerButton().click();
    // Back from the provider: the code step, not the console; the code left the address bar.
    await page.getByTestId("mfa-step").waitFor({ timeout: 30_000 });
    expect(new URL(page.url()).search).toBe("");
    await page.fill("#mfa-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.getByRole("link", { name: "Sessions" }).click();
    const current = page.getByTestId("sessions-table").locator("tr", { hasText: "this one" });
    await current.waitFor();
    expect((await current.getAttribute("data-amr"))?.split(" ")).toEqual(expect.arrayContaining(["fed", "otp"]));
    expect(await current.getByTestId("mfa-badge").count()).toBe(1);
  }, 150_000);

  it("tessera login through the provider takes --code: the loopback page sends the person back to the terminal", async () => {
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      TESSERA_API_URL: t.server.baseUrl,
      TESSERA_CONFIG_DIR: path.join(home, "cfg"),
      LOGIN_PORT: String(loginPort),
    };
    const child = spawn(process.execPath, [BIN, "login", "--no-browser", "--code", freshTotp(secret, used, t.clock)], { cwd: root, env, stdio: "pipe" });
    child.stdin.end();
    const done = outputOf(child);
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
        const m = /^\s+(http\S+)$/m.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on("close", () => reject(new Error(`the CLI exited before printing a URL: ${stderr}`)));
    });
    const { callback } = await provider.authorize(url, "alice");
    const landing = await fetch(callback);
    expect(await landing.text()).toContain("Return to the terminal");
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Logged in to");
    const entry = JSON.parse(readFileSync(path.join(home, "cfg", "credentials.json"), "utf8")).servers[t.server.baseUrl] as { accessToken: string };
    const me = await t.server.client(AuthService, { token: entry.accessToken }).checkToken({});
    expect(me.amr).toEqual(expect.arrayContaining(["fed", "otp"]));
    expect(me.assuranceLevel).toBe(2);
  }, 120_000);

  it("without a password, turning it off takes a recovery code and a code", async () => {
    await page.getByRole("link", { name: "Two-factor" }).click();
    await page.getByRole("heading", { name: "Turn off" }).waitFor();
    expect(await page.locator("#disable-password").count()).toBe(0);
    await page.fill("#disable-recovery-code", recoveryCodes[0]!);
    await page.fill("#disable-code", freshTotp(secret, used, t.clock));
    await page.getByRole("button", { name: "Turn off two-factor authentication" }).click();
    await expect.poll(() => page.getByTestId("mfa-status").getAttribute("data-enabled")).toBe("false");
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
