/**
 * The device login's "done when" (issue 17): `tessera login --device` runs as a child
 * process with no browser (no DISPLAY), prints the console's URL and a code; a person
 * signs in to the console in real headless Chromium at that URL, sees the program and
 * approves it; the CLI stores the tokens and `tessera whoami` works with them. A denial
 * in the console ends the CLI with exit 1. Against a server with an OpenID provider,
 * plain `tessera login` without a browser falls back to the device login by itself.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { DeviceLoginService } from "../packages/sdk/src/gen/tessera/v1/device_pb.js";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { useTessera, useTestProvider } from "./harness.js";
import { launchChromium } from "./helpers/chromium.js";
import { freePort } from "./helpers/net.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { outputOf, runTessera, type CliRun } from "./helpers/tessera-cli.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");
const shots = path.join(root, "test-artifacts", "console");
const PASSWORD = "correct horse battery staple";
/** How long the CLI may take to print its code, and to finish once approved (it polls every 5 s). */
const PRINT_TIMEOUT_MS = 30_000;

interface DeviceCli {
  child: ChildProcessWithoutNullStreams;
  done: Promise<CliRun>;
  userCode: string;
  url: string;
  completeUrl: string;
}

/** Starts `tessera <args>` with a clean environment (no DISPLAY: no browser) and waits for the code it prints. */
async function startDeviceCli(args: string[], env: Record<string, string>): Promise<DeviceCli> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: "pipe" });
  child.stdin.end();
  const done = outputOf(child);
  let stderr = "";
  const printed = await new Promise<{ userCode: string; url: string; completeUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no code printed within ${PRINT_TIMEOUT_MS} ms: ${stderr}`)), PRINT_TIMEOUT_MS);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      const code = /^ {2}Code: ([A-Z]{4}-[A-Z]{4})$/m.exec(stderr);
      const url = /^ {2}(http\S+)$/m.exec(stderr);
      const complete = /^Or open (http\S+) \(/m.exec(stderr);
      if (code && url && complete) {
        clearTimeout(timer);
        resolve({ userCode: code[1]!, url: url[1]!, completeUrl: complete[1]! });
      }
    });
    child.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`the CLI exited before printing a code: ${stderr}`));
    });
  });
  return { child, done, ...printed };
}

describe("tessera login --device, approved in the console in headless Chromium", () => {
  let port = 0;
  let home = "";
  beforeAll(async () => {
    port = await freePort();
    home = mkdtempSync(path.join(tmpdir(), "tessera-device-"));
    mkdirSync(shots, { recursive: true });
  });
  // The server's public URL is the one the CLI prints: a known port.
  const t = useTessera({ env: () => ({ AUTH_MODE: "full", PORT: String(port), TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}` }) });
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const email = "dana@example.com";

  /** The person (signed up) and their browser; opened by the first test (one beforeAll per describe: biome). */
  async function openBrowser(): Promise<void> {
    await createTesseraClient({ baseUrl: t.server.baseUrl }).signUp(email, PASSWORD, "Dana");
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1100, height: 760 } })).newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }
  afterAll(async () => {
    await browser?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const env = () => ({ HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "cfg") });

  it("prints the URL and code, the person approves in /console/device, the CLI stores the tokens, whoami works", async () => {
    await openBrowser();
    const cli = await startDeviceCli(["login", "--device"], env());
    try {
      expect(cli.url).toBe(`${t.server.baseUrl}/console/device`);
      expect(cli.completeUrl).toBe(`${t.server.baseUrl}/console/device?user_code=${cli.userCode}`);

      // Not signed in yet: the console asks to sign in first, then shows the device page with the code filled in.
      await page.goto(cli.completeUrl);
      await page.getByRole("heading", { name: "Sign in to Tessera" }).waitFor();
      await page.fill("#email", email);
      await page.fill("#password", PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("heading", { name: `Code ${cli.userCode}` }).waitFor();
      const table = page.getByTestId("device-table");
      await expect.poll(() => table.textContent()).toContain(`tessera CLI on ${hostname().slice(0, 60)}`);
      expect(await table.textContent()).toContain("127.0.0.1");
      expect(await page.inputValue("#user-code")).toBe(cli.userCode);
      await page.screenshot({ path: path.join(shots, "device-approve.png"), fullPage: true });
      await page.getByRole("button", { name: "Approve" }).click();
      await expect.poll(() => page.getByTestId("device-result").textContent()).toContain("is signed in as dana@example.com");

      const r = await cli.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`Logged in to ${t.server.baseUrl} as ${email}`);
      expect(r.stdout + r.stderr).not.toMatch(/tdc_|tsr_|eyJ/); // no secret on the terminal
    } finally {
      cli.child.kill();
    }
    const entry = JSON.parse(readFileSync(path.join(home, "cfg", "credentials.json"), "utf8")).servers[t.server.baseUrl];
    expect(entry.refreshToken).toMatch(/^tsr_/);
    const who = await runTessera(["whoami", "-o", "json"], env());
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email, principalKind: "USER" });
    expect(t.server.logs.join("\n")).not.toContain("tdc_");
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it("a denial in the console ends the CLI with exit 1 and stores nothing new", async () => {
    const cfg = path.join(home, "cfg-deny");
    const cli = await startDeviceCli(["login", "--device"], { ...env(), TESSERA_CONFIG_DIR: cfg });
    try {
      // Signed in already (same tab): the code typed by hand, loosely.
      await page.goto(`${t.server.baseUrl}/console/device`);
      await page.getByRole("heading", { name: "Sign in a device" }).waitFor();
      await page.fill("#user-code", cli.userCode.toLowerCase().replace("-", " "));
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByRole("heading", { name: `Code ${cli.userCode}` }).waitFor();
      await page.getByRole("button", { name: "Deny" }).click();
      await expect.poll(() => page.getByTestId("device-result").textContent()).toContain("was refused");
      const r = await cli.done;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("tessera: the login was denied in the browser");
    } finally {
      cli.child.kill();
    }
    expect(() => readFileSync(path.join(cfg, "credentials.json"))).toThrow();
    // A code that is not (or no longer) pending: the page says so.
    await page.fill("#user-code", "BCDF-GHJK");
    await page.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => page.getByTestId("device-error").textContent()).toContain("no pending device login has this code");
  }, 120_000);
});

describe("tessera login without a browser falls back to the device login", () => {
  let home = "";
  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), "tessera-device-fallback-"));
  });
  const provider = useTestProvider();
  const t = useTessera({
    env: () => ({
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/callback",
    }),
  });
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("says why (no DISPLAY), prints a code instead of opening a browser, and logs in once approved", async () => {
    const person = await t.signUp();
    const env = { HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "cfg") };
    const cli = await startDeviceCli(["login"], env);
    try {
      await t.client(DeviceLoginService, { token: person.accessToken }).approveDeviceLogin({ userCode: cli.userCode });
      const r = await cli.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain("No browser can be opened here (no DISPLAY or WAYLAND_DISPLAY): logging in with a code instead");
      expect(r.stderr).not.toContain("/auth?"); // the provider's URL was never printed
    } finally {
      cli.child.kill();
    }
    const who = await runTessera(["whoami", "-o", "json"], env);
    expect(JSON.parse(who.stdout)).toMatchObject({ userId: person.userId });
  }, 120_000);
});
