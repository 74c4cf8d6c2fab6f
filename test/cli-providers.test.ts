/**
 * `tessera login --provider <id>` against a server with several providers: without a
 * default the CLI lists them; an unknown id is a usage error; a chosen one (the
 * GitHub-shaped server here) completes the loopback login.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "./harness.js";
import { GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, startGithubServer, type GithubTestServer } from "./helpers/github-server.js";
import { freePort } from "./helpers/net.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET } from "./helpers/oidc-provider.js";
import { outputOf, runTessera } from "./helpers/tessera-cli.js";

const BIN = path.resolve(import.meta.dirname, "../packages/server/bin/tessera.js");

describe("tessera login --provider with several providers", () => {
  let home: string;
  let loginPort: number;
  let github: GithubTestServer;
  beforeAll(async () => {
    loginPort = await freePort();
    home = mkdtempSync(path.join(tmpdir(), "tessera-cli-providers-"));
    github = await startGithubServer();
  });
  const google = useTestProvider();
  const t = useTessera({
    env: () => ({
      AUTH_MODE: "full",
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/callback",
      AUTH_GOOGLE_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_GOOGLE_CLIENT_SECRET: TEST_CLIENT_SECRET,
      AUTH_GOOGLE_ISSUER: google.issuer,
      AUTH_GITHUB_CLIENT_ID: GITHUB_CLIENT_ID,
      AUTH_GITHUB_CLIENT_SECRET: GITHUB_CLIENT_SECRET,
      AUTH_GITHUB_URL: github.url,
    }),
  });
  afterAll(async () => {
    await github?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });
  const env = () => ({ HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "cfg"), LOGIN_PORT: String(loginPort) });

  it("lists the providers when none is chosen and refuses an unknown one", async () => {
    const none = await runTessera(["login", "--no-browser"], env());
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("choose one with --provider <id> (google (Google), github (GitHub))");
    const unknown = await runTessera(["login", "--provider", "gitlab", "--no-browser"], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown provider "gitlab"');
  }, 60_000);

  it("logs in through the chosen provider on the loopback callback", async () => {
    github.addUser({ id: 77, login: "cli-octo", name: "CLI Octo", emails: [{ email: "cli-octo@example.test", primary: true, verified: true }] });
    const child = spawn(process.execPath, [BIN, "login", "--provider", "github", "--no-browser"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const done = outputOf(child);
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on("data", (d: Buffer) => {
        stderr += String(d);
        const m = /^\s+(http\S+)$/m.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on("close", () => reject(new Error(`CLI exited before printing a URL: ${stderr}`)));
    });
    expect(url.startsWith(`${github.url}/login/oauth/authorize?`)).toBe(true);
    const { callback } = await github.authorize(url, "cli-octo");
    expect((await fetch(callback)).status).toBe(200);
    expect((await done).code).toBe(0);
    const who = await runTessera(["whoami", "-o", "json"], env());
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: "cli-octo@example.test" });
  }, 120_000);
});
