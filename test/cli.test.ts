/**
 * The `tessera` CLI as users run it: `node packages/server/bin/tessera.js ...` in a child process
 * against real servers. Password login (non-interactive), whoami, API keys
 * (create/list/get/regenerate/delete, the printed key used with CheckToken), members
 * and invites, refresh of an expired access token from the credentials file, logout,
 * exit codes, the 0600 credentials file, AUTH_MODE=none without login, and the
 * OpenID login through a real provider redirecting to the CLI's loopback callback.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { useTessera, useTestProvider } from "./harness.js";
import { freePort } from "./helpers/net.js";
import { outputOf, type CliRun } from "./helpers/tessera-cli.js";
import { TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_RESOURCE } from "./helpers/oidc-provider.js";
import { codeOf } from "./helpers/outcome.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");
const KEY_RE = /\btsk_[0-9A-Za-z]{39}\b/;
const EMAIL = "ada@example.com";
const PASSWORD = "correct horse battery staple";

/** Starts the CLI with a clean environment (PATH plus what the test gives). */
function spawnCli(args: string[], env: Record<string, string>) {
  return spawn(process.execPath, [BIN, ...args], { cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["pipe", "pipe", "pipe"] });
}

/** Runs the CLI to completion with `input` on stdin. */
function runCli(args: string[], env: Record<string, string>, input = ""): Promise<CliRun> {
  const child = spawnCli(args, env);
  const done = outputOf(child);
  child.stdin.end(input);
  return done;
}

describe("tessera CLI against an AUTH_MODE=full server", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let home: string;
  let env: Record<string, string>;
  const tessera = (args: string[], extra: Record<string, string> = {}, input = "") => runCli(args, { ...env, ...extra }, input);
  const credentialsPath = () => path.join(home, "config", "credentials.json");
  const readEntry = () => JSON.parse(readFileSync(credentialsPath(), "utf8")).servers[t.server.baseUrl] as Record<string, string>;
  const writeEntry = (patch: Record<string, string | undefined>) => {
    const file = JSON.parse(readFileSync(credentialsPath(), "utf8"));
    file.servers[t.server.baseUrl] = { ...file.servers[t.server.baseUrl], ...patch };
    writeFileSync(credentialsPath(), JSON.stringify(file));
  };
  const checkToken = (token: string) => t.server.client(AuthService, { token }).checkToken({});

  beforeAll(async () => {
    await createTesseraClient({ baseUrl: t.server.baseUrl }).signUp(EMAIL, PASSWORD, "Ada");
    home = mkdtempSync(path.join(tmpdir(), "tessera-cli-"));
    env = { HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "config") };
  }, 60_000);
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("exits 2 on usage errors and 0 on --help, for every command", async () => {
    const results = await Promise.all([
      tessera(["apikeys", "bogus"]),
      tessera(["apikeys", "create"]), // --name missing
      tessera(["apikeys", "create", "--name", "x", "--expires-in", "400d"]),
      tessera(["apikeys", "create", "--name", "x", "--expires-in", "soon"]),
      tessera(["whoami", "--output", "yaml"]),
      tessera(["whoami"], { TESSERA_API_URL: "ftp://example.com" }),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
    }
    expect(results[2]!.stderr).toMatch(/^tessera: API keys expire within 365 days: .*\n$/);
    const help = await Promise.all(
      [[], ["login"], ["apikeys"], ["apikeys", "create"], ["members", "invite"], ["accounts", "use"]].map((a) => tessera([...a, "--help"])),
    );
    for (const h of help) expect(h.code).toBe(0);
    expect(help[0]!.stdout).toMatch(/login[\s\S]*whoami[\s\S]*apikeys[\s\S]*members/);
    expect(help[3]!.stdout).toContain("--expires-in");
  }, 120_000);

  it("exits 1 with one actionable line when not logged in, or when the server is down", async () => {
    const r = await tessera(["whoami"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("tessera: not logged in: run `tessera login`\n");
    const down = await tessera(["whoami"], { TESSERA_API_URL: "http://127.0.0.1:9" });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^tessera: cannot reach Tessera at http:\/\/127\.0\.0\.1:9 .*set TESSERA_API_URL\n$/);
  }, 60_000);

  it("logs in with --password non-interactively and stores the tokens in a 0600 file", async () => {
    const wrong = await tessera(["login", "--password", "--email", EMAIL], { TESSERA_PASSWORD: "wrong password 123" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("invalid email or password");
    expect(wrong.stderr).not.toContain("wrong password 123");

    // Password on stdin.
    const viaStdin = await tessera(["login", "--password", "--email", EMAIL], {}, `${PASSWORD}\n`);
    expect(viaStdin.code, viaStdin.stderr).toBe(0);
    // Password from TESSERA_PASSWORD.
    const r = await tessera(["login", "--password", "--email", EMAIL], { TESSERA_PASSWORD: PASSWORD });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Logged in to ${t.server.baseUrl} as ${EMAIL}`);
    expect(r.stdout + r.stderr).not.toMatch(/tsr_|eyJ/); // never prints tokens

    expect(statSync(credentialsPath()).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(credentialsPath())).mode & 0o777).toBe(0o700);
    const entry = readEntry();
    expect(entry.accessToken).toMatch(/^eyJ/);
    expect(entry.refreshToken).toMatch(/^tsr_/);

    const who = await tessera(["whoami"]);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/^Email:\s+ada@example\.com$/m);
    expect(who.stdout).toMatch(/^Signed in with:\s+Tessera session$/m);
    const json = JSON.parse((await tessera(["whoami", "--output", "json"])).stdout);
    expect(json).toMatchObject({ email: EMAIL, principalKind: "USER", accountName: "personal" });
  }, 120_000);

  let keyId = "";
  let key = "";

  it("creates an API key whose printed value works with CheckToken, and lists it", async () => {
    const r = await tessera(["apikeys", "create", "--name", "ci", "--expires-in", "30d"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${KEY_RE.source}$`)); // stdout: the key alone
    expect(r.stderr).toContain("cannot be shown again");
    key = r.stdout.trim();
    const me = await checkToken(key);
    expect(me.principalKind).toBe(PrincipalKind.API_KEY);
    keyId = me.apiKeyId;

    const table = await tessera(["apikeys", "list"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STARTS WITH\s+CREATED\s+EXPIRES\s+LAST USED\s+OLD VALUE UNTIL$/);
    expect(lines[1]).toContain(keyId);
    expect(lines[1]!.indexOf("ci")).toBe(lines[0]!.indexOf("NAME")); // aligned columns
    expect(table.stdout).not.toContain(key);

    const json = JSON.parse((await tessera(["apikeys", "list", "--output", "json"])).stdout) as Array<Record<string, unknown>>;
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ id: keyId, name: "ci", start: key.slice(0, 12) });
    expect(JSON.stringify(json)).not.toContain(key);
    const expires = Date.parse(String(json[0]!.expiresAt));
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(10 * 60_000);

    const get = await tessera(["apikeys", "get", keyId]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^Name:\s+ci$/m);
    const missing = await tessera(["apikeys", "get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found: check the id with `tessera apikeys list`\n$/);
  }, 120_000);

  it("refuses API-key callers for apikeys, and explains why", async () => {
    const r = await tessera(["apikeys", "list"], { TESSERA_API_KEY: key });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ApiKeyService refuses API-key callers by design");
    expect(r.stderr).toContain("unset TESSERA_API_KEY and run `tessera login`");
    const who = await tessera(["whoami", "-o", "json"], { TESSERA_API_KEY: key });
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ principalKind: "API_KEY", apiKeyId: keyId });
    const bad = await tessera(["whoami"], { TESSERA_API_KEY: "tsk_notarealkey" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/the API key was rejected .*check TESSERA_API_KEY/);
  }, 60_000);

  it("regenerates (old value rejected) and deletes (only with --yes when not on a terminal)", async () => {
    const r = await tessera(["apikeys", "regenerate", keyId, "--expires-in", "7d"]);
    expect(r.code, r.stderr).toBe(0);
    const fresh = r.stdout.trim();
    expect(fresh).toMatch(KEY_RE);
    expect(fresh).not.toBe(key);
    expect(await codeOf(checkToken(key))).toBe(Code.Unauthenticated);
    expect((await checkToken(fresh)).apiKeyId).toBe(keyId);

    const unconfirmed = await tessera(["apikeys", "delete", keyId]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("pass --yes");
    expect(await codeOf(checkToken(fresh))).toBe("ok");

    const del = await tessera(["apikeys", "delete", keyId, "--yes"]);
    expect(del.code, del.stderr).toBe(0);
    expect(await codeOf(checkToken(fresh))).toBe(Code.Unauthenticated);
    expect((await tessera(["apikeys", "list"])).stdout).toMatch(/^no API keys/);
  }, 120_000);

  it("lists only keys expiring soon with --expiring", async () => {
    const short = await tessera(["apikeys", "create", "--name", "short-lived", "--expires-in", "5d"]);
    const long = await tessera(["apikeys", "create", "--name", "long-lived", "--expires-in", "60d"]);
    expect(short.code, short.stderr).toBe(0);
    expect(long.code, long.stderr).toBe(0);
    const names = async (args: string[]) =>
      (JSON.parse((await tessera(["apikeys", "list", ...args, "-o", "json"])).stdout) as Array<{ name: string }>).map((k) => k.name).sort();
    expect(await names(["--expiring", "14d"])).toEqual(["short-lived"]);
    expect(await names(["--expiring", "2w"])).toEqual(["short-lived"]);
    expect(await names(["--expiring", "90d"])).toEqual(["long-lived", "short-lived"]);
    expect((await tessera(["apikeys", "list", "--expiring", "1d"])).stdout).toContain("expire within 1d");
    const bad = await tessera(["apikeys", "list", "--expiring", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--expiring must look like 30d");
    for (const r of [short, long]) expect((await tessera(["apikeys", "delete", (await checkToken(r.stdout.trim())).apiKeyId, "--yes"])).code).toBe(0);
  }, 120_000);

  it("creates a scoped key with --scope (repeatable) and shows its scopes; an unknown one fails naming it", async () => {
    const r = await tessera(["apikeys", "create", "--name", "reader", "--scope", "tessera.v1.UserAccountService:read", "--scope", "*:read"]);
    expect(r.code, r.stderr).toBe(0);
    const me = await checkToken(r.stdout.trim());
    expect(me.scopes).toEqual(["tessera.v1.UserAccountService:read", "*:read"]);
    const get = await tessera(["apikeys", "get", me.apiKeyId]);
    expect(get.stdout).toMatch(/^Scopes:\s+tessera\.v1\.UserAccountService:read \*:read$/m);
    const bad = await tessera(["apikeys", "create", "--name", "typo", "--scope", "jobs:raed"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown scope "jobs:raed"');
    expect((await tessera(["apikeys", "delete", me.apiKeyId, "--yes"])).code).toBe(0);
  }, 120_000);

  it("rotates with --overlap, ends the old value with revoke-old, and lists keys expiring soon with --expiring", async () => {
    const soon = await tessera(["apikeys", "create", "--name", "rotating", "--expires-in", "10d"]);
    expect(soon.code, soon.stderr).toBe(0);
    const old = soon.stdout.trim();
    const id = (await checkToken(old)).apiKeyId;
    const later = await tessera(["apikeys", "create", "--name", "long-lived", "--expires-in", "90d"]);
    expect(later.code, later.stderr).toBe(0);
    const laterId = (await checkToken(later.stdout.trim())).apiKeyId;

    const tooLong = await tessera(["apikeys", "regenerate", id, "--overlap", "25h"]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain("--overlap is at most 24h");
    const r = await tessera(["apikeys", "regenerate", id, "--expires-in", "10d", "--overlap", "1h"]);
    expect(r.code, r.stderr).toBe(0);
    const fresh = r.stdout.trim();
    expect(fresh).toMatch(new RegExp(`^${KEY_RE.source}$`));
    expect(r.stderr).toContain(`the old value ${old.slice(0, 12)}… keeps working until`);
    expect(r.stderr).toContain(`tessera apikeys revoke-old ${id}`);
    // Both values work during the overlap.
    expect((await checkToken(old)).apiKeyId).toBe(id);
    expect((await checkToken(fresh)).apiKeyId).toBe(id);

    // The last use is written in the background (every 2 s): wait until `get` shows it.
    let get = await tessera(["apikeys", "get", id]);
    for (let i = 0; i < 40 && !/^Last used:.* from 127\.0\.0\.1$/m.test(get.stdout); i++) {
      await new Promise((res) => setTimeout(res, 250));
      get = await tessera(["apikeys", "get", id]);
    }
    expect(get.stdout).toMatch(/^Last used:\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC from 127\.0\.0\.1$/m);
    expect(get.stdout).toMatch(/^Old value:\s+tsk_[0-9A-Za-z]{8}… works until /m);

    // --expiring 14d: only the key that expires within 14 days, marked, with its old value's end.
    const listed = await tessera(["apikeys", "list", "--expiring", "14d"]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(id);
    expect(lines[1]).toContain("(expires soon)");
    expect(lines[1]).toMatch(/ UTC \(tsk_[0-9A-Za-z]{8}…\)$/); // the old value's end and prefix
    expect(lines[1]).toMatch(/ UTC from 127\.0\.0\.1/); // last use
    expect(listed.stdout).not.toContain(laterId);
    const all = await tessera(["apikeys", "list"]);
    expect(all.stdout).toContain(laterId);
    expect(all.stdout.split("\n").find((l) => l.includes(laterId))).not.toContain("soon");
    const json = JSON.parse((await tessera(["apikeys", "list", "--expiring", "12h", "-o", "json"])).stdout) as unknown[];
    expect(json).toEqual([]);
    const bad = await tessera(["apikeys", "list", "--expiring", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--expiring must look like");

    // revoke-old: the old value stops at once, the new one keeps working; again: nothing to do.
    const revoked = await tessera(["apikeys", "revoke-old", id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toContain("no longer works");
    expect(await codeOf(checkToken(old))).toBe(Code.Unauthenticated);
    expect((await checkToken(fresh)).apiKeyId).toBe(id);
    expect((await tessera(["apikeys", "revoke-old", id])).stderr).toContain("has no old value");
    for (const k of [id, laterId]) expect((await tessera(["apikeys", "delete", k, "--yes"])).code).toBe(0);
  }, 120_000);

  it("manages members and invites of a team account", async () => {
    const personal = await tessera(["members", "invite", "bob@example.com"]);
    expect(personal.code).toBe(1);
    expect(personal.stderr).toContain("tessera accounts create");

    expect((await tessera(["accounts", "create", "Research"])).code).toBe(0);
    const accounts = await tessera(["accounts", "list"]);
    expect(accounts.stdout).toMatch(/^\*\s+\S+\s+Research\s+team\s+admin$/m);

    const inv = await tessera(["members", "invite", "bob@example.com", "--role", "viewer"]);
    expect(inv.code, inv.stderr).toBe(0);
    expect(inv.stdout.trim()).toMatch(/^tsi_[A-Za-z0-9_-]+$/);

    const list = await tessera(["members", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/ada@example\.com\s+admin/);
    expect(list.stdout).toMatch(/bob@example\.com\s+viewer/);
    const json = JSON.parse((await tessera(["members", "list", "-o", "json"])).stdout);
    expect(json.members).toHaveLength(1);
    expect(json.invites[0]).toMatchObject({ email: "bob@example.com", role: "ACCOUNT_ROLE_VIEWER" });

    const badRole = await tessera(["members", "invite", "x@example.com", "--role", "owner"]);
    expect(badRole.code).toBe(2);
    const remove = await tessera(["members", "remove", "00000000-0000-4000-8000-000000000000"]);
    expect(remove.code).toBe(1);
    expect(remove.stderr).toContain("member not found");

    // Back to the personal account by name.
    expect((await tessera(["accounts", "use", "personal"])).code).toBe(0);
    expect((await tessera(["accounts", "use", "nope"])).code).toBe(1);
  }, 120_000);

  it("refreshes an expired access token from the stored refresh token, and only then asks to log in", async () => {
    const before = readEntry();
    // Known expiry in the past: refreshed before the call.
    writeEntry({ accessTokenExpiresAt: "2020-01-01T00:00:00.000Z" });
    const r = await tessera(["whoami", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).email).toBe(EMAIL);
    const after = readEntry();
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(Date.parse(after.accessTokenExpiresAt!)).toBeGreaterThan(Date.now());
    expect(statSync(credentialsPath()).mode & 0o777).toBe(0o600);

    // A rejected access token with unknown expiry: refreshed after the Unauthenticated answer.
    writeEntry({ accessToken: "not-a-valid-token", accessTokenExpiresAt: undefined });
    const again = await tessera(["apikeys", "list"]);
    expect(again.code, again.stderr).toBe(0);
    expect(readEntry().accessToken).toMatch(/^eyJ/);

    // Refresh token revoked too: now it is time to log in again.
    writeEntry({ accessToken: "not-a-valid-token", accessTokenExpiresAt: undefined, refreshToken: "tsr_revoked" });
    const dead = await tessera(["whoami"]);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/^tessera: your session has ended .*run `tessera login`\n$/);
  }, 120_000);

  it("logs out: the session ends on the server and the tokens leave the file", async () => {
    const login = await tessera(["login", "--password", "--email", EMAIL], { TESSERA_PASSWORD: PASSWORD });
    expect(login.code).toBe(0);
    const { refreshToken } = readEntry();
    const r = await tessera(["logout"]);
    expect(r.code, r.stderr).toBe(0);
    expect(() => readEntry()).toThrow(); // file (or entry) gone
    expect(await codeOf(createTesseraClient({ baseUrl: t.server.baseUrl }).auth.refreshToken({ refreshToken: refreshToken! }))).toBe(Code.Unauthenticated);
    const who = await tessera(["whoami"]);
    expect(who.code).toBe(1);
    expect(who.stderr).toContain("not logged in: run `tessera login`");
  }, 60_000);
});

describe("tessera CLI against an AUTH_MODE=none server", () => {
  const t = useTessera();
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(tmpdir(), "tessera-cli-none-"));
  });
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("works without any login", async () => {
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, "xdg"), TESSERA_API_URL: t.server.baseUrl };
    const login = await runCli(["login"], env);
    expect(login.code).toBe(0);
    expect(login.stderr).toContain("no login needed");
    const who = await runCli(["whoami", "-o", "json"], env);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout).principalKind).toBe("ANONYMOUS");
    const created = await runCli(["apikeys", "create", "--name", "local", "--expires-at", new Date(Date.now() + 86_400_000).toISOString()], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(KEY_RE);
  }, 60_000);
});

describe("tessera login through the OpenID provider", () => {
  let home: string;
  let loginPort: number;

  beforeAll(async () => {
    // A free port for the CLI's callback, registered at the provider (exact match there).
    loginPort = await freePort();
    home = mkdtempSync(path.join(tmpdir(), "tessera-cli-oidc-"));
  });
  const provider = useTestProvider(() => ({ redirectUris: [`http://127.0.0.1:${loginPort}/callback`] }));
  const t = useTessera({
    env: () => ({
      AUTH_MODE: "full",
      AUTH_BASEURL: provider.issuer,
      AUTH_AUDIENCE: TEST_RESOURCE,
      AUTH_CLIENT_ID: TEST_CLIENT_ID,
      AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
      // Loopback: the CLI's port may vary (RFC 8252).
      AUTH_ALLOWED_REDIRECT_URIS: "http://127.0.0.1/callback",
    }),
  });
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("prints the authorization URL, receives the provider's redirect on the loopback callback, and stores tokens", async () => {
    const env = { HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "cfg"), LOGIN_PORT: String(loginPort) };
    const child = spawnCli(["login", "--no-browser"], env);
    let stderr = "";
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on("close", r));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        const m = /^\s+(http\S+)$/m.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on("close", () => reject(new Error(`CLI exited before printing a URL: ${stderr}`)));
    });
    expect(url.startsWith(`${provider.issuer}/auth?`)).toBe(true);
    const redirect = new URL(url).searchParams.get("redirect_uri");
    expect(redirect).toBe(`http://127.0.0.1:${loginPort}/callback`);

    // A callback that is not ours (wrong state) is refused; the CLI keeps waiting.
    const forged = await fetch(`${redirect}?code=x&state=forged`);
    expect(forged.status).toBe(400);

    // The "browser": log in at the provider, which redirects to the CLI's loopback callback.
    const { callback } = await provider.authorize(url, "carol");
    const page = await fetch(callback);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("Signed in to Tessera");
    expect(await exited).toBe(0);
    expect(stderr).toContain("Logged in to");
    expect(stdout).toBe("");

    const who = await runCli(["whoami", "-o", "json"], env);
    expect(who.code, who.stderr).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ email: "carol@example.test", principalKind: "USER" });
    const entry = JSON.parse(readFileSync(path.join(home, "cfg", "credentials.json"), "utf8")).servers[t.server.baseUrl];
    expect(entry.refreshToken).toMatch(/^tsr_/);
  }, 120_000);

  it("says which variable to change when the callback port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await runCli(["login", "--no-browser"], {
        HOME: home,
        TESSERA_API_URL: t.server.baseUrl,
        TESSERA_CONFIG_DIR: path.join(home, "cfg2"),
        LOGIN_PORT: String(port),
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/in use\): set LOGIN_PORT to a free port\n$/);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  }, 60_000);
});
