/**
 * The browser console end to end in real headless Chromium: sign in, create an API
 * key, read its plaintext from the page, use it from Node (CheckToken), delete it in
 * the page (confirmation dialog), see it rejected; then a team, an invite, and the
 * security headers. Screenshots of every page go to test-artifacts/console/.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "./harness.js";
import type { Browser, Page } from "playwright-core";
import { Code, ConnectError } from "@connectrpc/connect";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { freePort } from "./helpers/net.js";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { launchChromium } from "./helpers/chromium.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const shots = path.join(root, "test-artifacts", "console");
const EMAIL = "grace@example.com";
const PASSWORD = "correct horse battery staple";

describe("browser console in headless Chromium", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    await createTesseraClient({ baseUrl: t.server.baseUrl }).signUp(EMAIL, PASSWORD, "Grace Hopper");
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const checkToken = (token: string) => t.server.client(AuthService, { token }).checkToken({});

  it("serves the console with strict security headers", async () => {
    const res = await fetch(`${t.server.baseUrl}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const js = await fetch(`${t.server.baseUrl}/console/app.js`);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.headers.get("content-security-policy")).toBe(csp);
    expect((await fetch(`${t.server.baseUrl}/console`, { redirect: "manual" })).headers.get("location")).toBe("/console/");
    expect((await fetch(`${t.server.baseUrl}/console/nope.js`)).status).toBe(404);
  });

  it("signs in, creates a key, uses it from Node, deletes it and sees it rejected", async () => {
    await page.goto(`${t.server.baseUrl}/console/`);
    await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
    await shot("01-sign-in");

    // A wrong password shows the server's answer in the page.
    await page.fill("#email", EMAIL);
    await page.fill("#password", "not the right password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect.poll(() => page.getByTestId("signin-error").textContent()).toContain("invalid email or password");

    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.getByText("No API keys yet").waitFor();
    await shot("02-api-keys-empty");

    // Tokens live in sessionStorage, never localStorage.
    const storage = await page.evaluate(() => ({ session: Object.keys(sessionStorage), local: Object.keys(localStorage) }));
    expect(storage.session).toContain("tessera.console.tokens");
    expect(storage.local).toEqual([]);

    await page.getByRole("button", { name: "+ New API Key" }).click();
    await page.fill("#key-name", "browser-ci");
    await page.selectOption("#key-expiry", "90");
    await shot("03-new-key-dialog");
    await page.getByRole("button", { name: "Create key" }).click();
    const valueBox = page.getByTestId("new-key-value");
    await valueBox.waitFor();
    const key = await valueBox.inputValue();
    expect(key).toMatch(/^tsk_[0-9A-Za-z]{39}$/);
    await expect.poll(() => page.getByTestId("secret-dialog").textContent()).toContain("cannot be shown again");
    await shot("04-new-key-plaintext");
    await page.getByTestId("done").click();

    const row = page.locator('tr[data-key-name="browser-ci"]');
    await row.waitFor();
    expect(await row.textContent()).toContain(key.slice(0, 12));
    expect(await page.content()).not.toContain(key); // shown once: not in the list
    await shot("05-api-keys-list");

    // The key works from Node.
    const me = await checkToken(key);
    expect(me.principalKind).toBe(PrincipalKind.API_KEY);
    expect(me.apiKeyId).toBe(await row.getAttribute("data-key-id"));

    // Delete in the page, through the confirmation dialog.
    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByTestId("confirm-dialog").waitFor();
    await shot("06-delete-confirm");
    await page.getByTestId("confirm").click();
    await row.waitFor({ state: "detached" });
    await page.getByText("No API keys yet").waitFor();

    const err = await checkToken(key).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unauthenticated);
  });

  it("regenerates a key: the old value stops working, the new one works", async () => {
    await page.getByRole("button", { name: "+ New API Key" }).click();
    await page.fill("#key-name", "rotating");
    await page.getByRole("button", { name: "Create key" }).click();
    const first = await page.getByTestId("new-key-value").inputValue();
    await page.getByTestId("done").click();
    const row = page.locator('tr[data-key-name="rotating"]');
    await row.getByRole("button", { name: "Regenerate" }).click();
    await page.getByTestId("regenerate-dialog").waitFor();
    await page.getByRole("button", { name: "Regenerate", exact: true }).last().click();
    const box = page.getByTestId("new-key-value");
    await expect.poll(async () => (await box.count()) > 0 && (await box.inputValue()) !== first).toBe(true);
    const second = await box.inputValue();
    await page.getByTestId("done").click();
    expect((await checkToken(second)).principalKind).toBe(PrincipalKind.API_KEY);
    expect(
      await checkToken(first).then(
        () => "ok",
        (e: unknown) => ConnectError.from(e).code,
      ),
    ).toBe(Code.Unauthenticated);
  });

  it("creates a team, invites a member, and shows members and invites", async () => {
    await page.getByRole("link", { name: "Members" }).click();
    await page.getByText("is your personal account").waitFor();
    await shot("07-members-personal");
    await page.fill("#team-name", "Compilers");
    await page.getByRole("button", { name: "Create team account" }).click();
    await page.getByTestId("members-table").waitFor();
    expect(await page.locator("#account option:checked").textContent()).toBe("Compilers");
    await page.fill("#invite-email", "ada@example.com");
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    const token = await page.getByTestId("new-key-value").inputValue();
    expect(token).toMatch(/^tsi_/);
    await page.getByTestId("done").click();
    await page.locator("[data-testid=invites-table] td", { hasText: "ada@example.com" }).waitFor();
    expect(await page.getByTestId("members-table").textContent()).toContain(EMAIL);
    await shot("08-members-team");
  });

  it("signs out and back in after a reload, with no errors in the page", async () => {
    await page.reload();
    await page.getByTestId("members-table").waitFor(); // still signed in within the tab
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("tessera.console.tokens"))).toBeNull();
    expect(pageErrors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([]);
  });
});

describe("console sign-in through the OpenID provider in headless Chromium", () => {
  let browser: Browser;
  let port: number;
  let base: string;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    // The provider matches redirect URIs exactly: pick the server's port before starting both.
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  }, 120_000);
  const provider = useTestProvider(() => ({ redirectUris: [`${base}/console/callback`] }));
  useTessera({
    env: () => ({
      PORT: String(port),
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_ALLOWED_REDIRECT_URIS: `${base}/console/callback`,
    }),
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("redirects to the provider and back to /console/callback, then shows the signed-in console", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
    await page.goto(`${base}/console/`);
    const button = page.getByRole("button", { name: /^Sign in with / });
    await button.waitFor();
    await shot(page, "09-sign-in-with-provider");
    await button.click();
    // Provider -> headless interaction (logs in "alice") -> back to the console's callback.
    await page.getByRole("heading", { name: "API keys" }).waitFor({ timeout: 30_000 });
    expect(await page.locator("#session .who").textContent()).toBe("alice@example.test");
    const url = new URL(page.url());
    expect(url.pathname).toBe("/console/");
    expect(url.search).toBe(""); // the code left the address bar
    expect(await page.evaluate(() => sessionStorage.getItem("tessera.console.login"))).toBeNull();
    await shot(page, "10-signed-in-with-provider");
  });

  async function shot(page: Page, name: string) {
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }
});
