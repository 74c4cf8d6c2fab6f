/**
 * The console's "Admin" pages in headless Chromium (issue 19, oversight): a user who is
 * no instance admin sees no Admin section; an instance admin searches users, opens a
 * user's page (identities, sessions, accounts, keys), revokes the user's key there (the
 * key stops working, checked from Node), ends the user's sessions, and finds keys across
 * accounts with a filter. Screenshots go to test-artifacts/console/.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { launchChromium } from "./helpers/chromium.js";
import { type SignedUp, useTessera } from "./harness.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const shots = path.join(root, "test-artifacts", "console");

describe("console Admin pages in headless Chromium", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let browser: Browser;
  let admin: SignedUp;
  let plain: SignedUp;
  let target: SignedUp;
  let keyValue = "";
  let keyId = "";
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    admin = await t.signUp({ name: "Ada Admin" });
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    plain = await t.signUp({ name: "Plain User" });
    target = await t.signUp({ email: `target-${randomBytes(3).toString("hex")}@example.com`, name: "Tara Target" });
    const team = (await t.client(UserAccountService, { token: target.accessToken }).createTeamAccount({ name: "Target Team" })).account!.id;
    const key = await t.client(ApiKeyService, { token: target.accessToken }).createAccountApiKey({
      accountId: team,
      name: "target-ci",
      expiresAt: timestampFromDate(new Date(Date.now() + 5 * 86_400_000)),
    });
    keyValue = key.keyValue;
    keyId = key.apiKey!.id;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function signedIn(user: SignedUp): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${t.server.baseUrl}/console/`);
    await page.fill("#email", user.email);
    await page.fill("#password", user.password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    return page;
  }

  const checkKey = () =>
    t
      .client(AuthService, { token: keyValue })
      .checkToken({})
      .then(
        () => "ok" as const,
        (e: unknown) => ConnectError.from(e).code,
      );

  it("shows no Admin section to a user who is not an instance admin; their keys show who made them and expiring ones are marked", async () => {
    const personal = (await t.client(UserAccountService, { token: plain.accessToken }).setPersonalAccount({})).account!.id;
    const make = (name: string, days: number) =>
      t.client(ApiKeyService, { token: plain.accessToken }).createAccountApiKey({
        accountId: personal,
        name,
        expiresAt: timestampFromDate(new Date(Date.now() + days * 86_400_000)),
      });
    await make("soon-key", 3);
    await make("later-key", 90);
    const page = await signedIn(plain);
    const soon = page.locator('tr[data-key-name="soon-key"]');
    await soon.waitFor();
    expect(await soon.textContent()).toContain(plain.email);
    expect(await soon.getByTestId("expires-soon").count()).toBe(1);
    expect(await page.locator('tr[data-key-name="later-key"]').getByTestId("expires-soon").count()).toBe(0);
    await page.locator("#nav a").first().waitFor();
    const links = await page.locator("#nav a").allTextContents();
    expect(links).toContain("API keys");
    expect(links.some((l) => l.startsWith("Admin"))).toBe(false);
    // Typing the address does not show it either: the default page does.
    await page.goto(`${t.server.baseUrl}/console/#/admin`);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    expect(await page.getByTestId("admin-users-table").count()).toBe(0);
    await page.context().close();
  });

  it("searches users, opens a user's page, revokes their key and ends their sessions", async () => {
    expect(await checkKey()).toBe("ok");
    const page = await signedIn(admin);
    await page.locator("#nav a", { hasText: /^Admin$/ }).click();
    await page.getByTestId("admin-users-table").waitFor();

    await page.fill("#admin-search", target.email.toUpperCase().slice(0, 12));
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.locator("[data-testid=admin-users-table] tbody tr").count()).toBe(1);
    await page.screenshot({ path: path.join(shots, "20-admin-users.png"), fullPage: true });
    await page.getByRole("link", { name: target.email }).click();

    await expect.poll(() => page.getByTestId("admin-user-heading").textContent()).toBe(target.email);
    await page.getByTestId("admin-sessions").waitFor();
    expect(await page.getByTestId("admin-accounts").textContent()).toContain("Target Team");
    const row = page.locator(`tr[data-key-id="${keyId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("expires soon");
    await page.screenshot({ path: path.join(shots, "21-admin-user.png"), fullPage: true });

    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByTestId("confirm-dialog").waitFor();
    await page.getByTestId("confirm").click();
    await row.waitFor({ state: "detached" });
    await expect.poll(checkKey, { timeout: 5000, interval: 50 }).toBe(Code.Unauthenticated);

    // End every session of the user: their refresh token stops working.
    await page.getByRole("button", { name: "Revoke all sessions" }).click();
    await page.getByTestId("confirm").click();
    await page.getByText("No open sessions.").waitFor();
    const refreshed = await t
      .client(AuthService)
      .refreshToken({ refreshToken: target.refreshToken })
      .then(
        () => "ok" as const,
        (e: unknown) => ConnectError.from(e).code,
      );
    expect(refreshed).toBe(Code.Unauthenticated);
    await page.context().close();
  });

  it("lists keys across accounts with a filter", async () => {
    const other = await t.signUp({ name: "Other" });
    const personal = (await t.client(UserAccountService, { token: other.accessToken }).setPersonalAccount({})).account!.id;
    await t.client(ApiKeyService, { token: other.accessToken }).createAccountApiKey({
      accountId: personal,
      name: "long-lived",
      expiresAt: timestampFromDate(new Date(Date.now() + 300 * 86_400_000)),
    });
    const page = await signedIn(admin);
    await page.locator("#nav a", { hasText: "Admin: keys" }).click();
    await page.getByTestId("admin-keys-table").waitFor();
    expect(await page.locator('tr[data-key-name="long-lived"]').count()).toBe(1);
    await page.fill("#keys-creator", other.userId);
    await page.fill("#keys-expiring", "30");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByText("No API keys.").waitFor();
    await page.fill("#keys-expiring", "");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator('tr[data-key-name="long-lived"]').waitFor();
    expect(await page.locator("[data-testid=admin-keys-table] tbody tr").count()).toBe(1);
    await page.screenshot({ path: path.join(shots, "22-admin-keys.png"), fullPage: true });
    await page.context().close();
    expect(pageErrors).toEqual([]);
  });
});
