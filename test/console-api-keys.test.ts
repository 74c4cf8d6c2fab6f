/**
 * The console's API-key rotation and oversight in real headless Chromium (issue 19):
 * the create dialog's scopes and rate limit, the "expires soon" mark, the last use (time,
 * IP), regenerate with an overlap (both values work, the old one is listed with its end),
 * and "Revoke old value" (the old value stops, the new one keeps working).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Code } from "@connectrpc/connect";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { useTessera } from "./harness.js";
import { launchChromium } from "./helpers/chromium.js";
import { codeOf } from "./helpers/outcome.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const shots = path.join(root, "test-artifacts", "console");
const EMAIL = "katherine@example.com";
const PASSWORD = "correct horse battery staple";

describe("console API-key rotation in headless Chromium", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const checkToken = (token: string) => t.server.client(AuthService, { token }).checkToken({});

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    await createTesseraClient({ baseUrl: t.server.baseUrl }).signUp(EMAIL, PASSWORD, "Katherine Johnson");
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(`${t.server.baseUrl}/console/`);
    await page.fill("#email", EMAIL);
    await page.fill("#password", PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** Creates a key in the page and returns its value. */
  async function createKey(name: string, expiryDays: string, restrict?: (p: Page) => Promise<void>): Promise<string> {
    await page.getByRole("button", { name: "+ New API Key" }).click();
    await page.fill("#key-name", name);
    await page.selectOption("#key-expiry", expiryDays);
    if (restrict) await restrict(page);
    await page.getByRole("button", { name: "Create key" }).click();
    const value = await page.getByTestId("new-key-value").inputValue();
    await page.getByTestId("done").click();
    await page.locator(`tr[data-key-name="${name}"]`).waitFor();
    return value;
  }

  it("creates keys with scopes and a rate limit, and marks the one expiring within 14 days", async () => {
    const soon = await createKey("nightly", "7", async (p) => {
      await p.getByText("Scopes and limits (optional)").click();
      await p.selectOption("#key-scopes", ["*:read"]);
      await p.fill("#key-rate-limit", "100");
      await p.selectOption("#key-rate-window", "60");
      await shot("rotation-01-new-key-scopes");
    });
    const me = await checkToken(soon);
    expect(me.principalKind).toBe(PrincipalKind.API_KEY);
    expect(me.scopes).toEqual(["*:read"]);
    const row = await t.database.db.kysely.selectFrom("api_keys").select("rate_limits").where("id", "=", me.apiKeyId).executeTakeFirstOrThrow();
    expect(row.rate_limits).toEqual([{ limit: 100, window_seconds: 60 }]);

    await createKey("long-lived", "90");
    const nightly = page.locator('tr[data-key-name="nightly"]');
    const longLived = page.locator('tr[data-key-name="long-lived"]');
    await nightly.getByTestId("expires-soon").waitFor();
    expect(await longLived.getByTestId("expires-soon").count()).toBe(0);

    // The last use (time and address) shows once it is written (in the background, every 2 s).
    await expect
      .poll(
        async () => {
          await page.reload();
          await nightly.waitFor();
          return nightly.getByTestId("last-use").textContent();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toContain("127.0.0.1");
    await shot("rotation-02-expiring-and-last-use");
  });

  it("regenerates with an overlap (both values work), then revokes the old value", async () => {
    const first = await createKey("rolling", "30");
    const row = page.locator('tr[data-key-name="rolling"]');
    expect(await row.getByTestId("old-value").textContent()).toBe("—");
    await row.getByRole("button", { name: "Regenerate" }).click();
    await page.getByTestId("regenerate-dialog").waitFor();
    await page.selectOption("#key-overlap", "3600");
    await shot("rotation-03-regenerate-overlap");
    await page.getByRole("button", { name: "Regenerate", exact: true }).last().click();
    const box = page.getByTestId("new-key-value");
    await expect.poll(async () => (await box.count()) > 0 && (await box.inputValue()) !== first).toBe(true);
    const second = await box.inputValue();
    expect(await page.getByTestId("secret-dialog").textContent()).toContain("The previous value keeps working until");
    await page.getByTestId("done").click();

    // Both values work; the row shows the old value's prefix, its end, and the button.
    expect((await checkToken(first)).principalKind).toBe(PrincipalKind.API_KEY);
    expect((await checkToken(second)).principalKind).toBe(PrincipalKind.API_KEY);
    const old = row.getByTestId("old-value");
    await expect.poll(() => old.textContent()).toContain(first.slice(0, 12));
    expect(await old.textContent()).toContain("works until");
    await shot("rotation-04-overlap");

    await old.getByRole("button", { name: "Revoke old value" }).click();
    await page.getByTestId("confirm-dialog").waitFor();
    await page.getByTestId("confirm").click();
    await expect.poll(() => row.getByTestId("old-value").textContent()).toBe("—");
    expect(await codeOf(checkToken(first))).toBe(Code.Unauthenticated);
    expect((await checkToken(second)).principalKind).toBe(PrincipalKind.API_KEY);
    await shot("rotation-05-old-revoked");
    expect(pageErrors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([]);
  });
});
