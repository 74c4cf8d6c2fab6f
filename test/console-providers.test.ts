/**
 * The console with several identity providers, in headless Chromium: the sign-in page
 * offers the password form and one button per provider; signing in through the
 * Google-shaped provider; a password user links a GitHub account on the "Sign-in
 * methods" page (through the GitHub-shaped server and back), sees it listed, signs in
 * with it, and unlinks it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { useTessera, useTestProvider } from "./harness.js";
import { launchChromium } from "./helpers/chromium.js";
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, startGithubServer, type GithubTestServer } from "./helpers/github-server.js";
import { freePort } from "./helpers/net.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET } from "./helpers/oidc-provider.js";

describe("console sign-in and linking with several providers in headless Chromium", () => {
  let browser: Browser;
  let port: number;
  let base: string;
  let github: GithubTestServer;

  beforeAll(async () => {
    // The provider matches redirect URIs exactly: pick the server's port before starting them.
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    github = await startGithubServer();
    browser = await launchChromium();
  }, 120_000);
  const google = useTestProvider(() => ({ redirectUris: [`${base}/console/callback`], accountClaims: () => ({ hd: "example.test" }) }));
  const t = useTessera({
    env: () => ({
      PORT: String(port),
      AUTH_MODE: "full",
      AUTH_ALLOWED_REDIRECT_URIS: `${base}/console/callback`,
      AUTH_GOOGLE_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_GOOGLE_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_GOOGLE_ISSUER: google.issuer,
      AUTH_GOOGLE_ALLOWED_DOMAINS: "example.test",
      AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
      AUTH_GITHUB_CLIENT_SECRET: GITHUB_CLIENT_SECRET,
      AUTH_GITHUB_URL: github.url,
    }),
  });
  afterAll(async () => {
    await browser?.close();
    await github?.close();
  });

  it("offers the password form and a button per provider, and signs in through Google", { timeout: 120_000 }, async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/console/`);
    await page.getByRole("button", { name: "Sign in with Google" }).waitFor();
    expect(await page.getByRole("button", { name: "Sign in with GitHub" }).count()).toBe(1);
    expect(await page.locator("#password").count()).toBe(1);
    await page.getByRole("button", { name: "Sign in with Google" }).click();
    // Provider -> headless interaction (logs in "alice") -> back to the console's callback.
    await page.getByRole("heading", { name: "API keys" }).waitFor({ timeout: 30_000 });
    expect(await page.locator("#session .who").textContent()).toBe("alice@example.test");
  });

  it("links a GitHub account to a password user, signs in with it, and unlinks it", { timeout: 120_000 }, async () => {
    const email = `linker-${Date.now()}@example.com`;
    await t.signUp({ email, password: "correct horse battery staple" });
    github.addUser({ id: 4242, login: "linker", name: "Linker", emails: [{ email: "linker@example.com", primary: true, verified: true }] });
    github.setDefaultLogin("linker");
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/console/`);
    await page.locator("#email").fill(email);
    await page.locator("#password").fill("correct horse battery staple");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("link", { name: "Sign-in methods" }).click();
    await page.getByRole("heading", { name: "Sign-in methods" }).waitFor();
    await page.getByRole("button", { name: "Link GitHub" }).click();
    // GitHub -> back to the callback -> the sign-in methods page, now listing GitHub.
    await page
      .locator('[data-testid="identities-table"] tr[data-provider-id="github"]')
      .waitFor({ timeout: 30_000 })
      .catch(async (e: Error) => {
        throw new Error(`${e.message}\nat ${page.url()}: ${await page.locator("body").textContent()}`);
      });
    expect(new URL(page.url()).search).toBe("");
    expect(await page.locator("#session .who").textContent()).toBe(email);
    expect(await page.getByRole("button", { name: "Link GitHub" }).count()).toBe(0);

    // A fresh tab signs in with GitHub as the same user.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${base}/console/`);
    await other.getByRole("button", { name: "Sign in with GitHub" }).click();
    await other.getByRole("heading", { name: "API keys" }).waitFor({ timeout: 30_000 });
    expect(await other.locator("#session .who").textContent()).toBe(email);

    await page.getByRole("button", { name: "Unlink" }).click();
    await page.getByRole("button", { name: "Unlink", exact: true }).last().click();
    await page.getByText("No provider account is linked.").waitFor();
    expect(await page.getByRole("button", { name: "Link GitHub" }).count()).toBe(1);
  });
});
