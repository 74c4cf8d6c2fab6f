/**
 * The CLI's second factor (issue 18) against the real server, on PostgreSQL and PGlite:
 * `tessera mfa enroll` prints the secret and takes a code (computed here with RFC 6238,
 * as an authenticator app would) on stdin, then 10 recovery codes; `tessera login`
 * then needs a code: refused without one (exit 2, nothing stored), with a wrong one
 * (exit 1), accepted with `--code`, with the code on stdin after the password, and
 * with `--recovery-code` (once only); `tessera mfa recovery-codes` (TESSERA_MFA_CODE)
 * and `tessera mfa disable`. The tokens say how the user signed in (amr, level 2).
 * On a (pseudo-)terminal, `login` prompts for the code; `tessera mfa reset` for an instance admin.
 */
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { MfaService } from "../packages/sdk/src/gen/tessera/v1/mfa_pb.js";
import { createTesseraClient, MfaRequiredError } from "../packages/sdk/src/node.js";
import { DB_KINDS, useTessera, type SignedUp } from "./harness.js";
import { outputOf, type CliRun } from "./helpers/tessera-cli.js";
import { freshTotp, hotp, totp } from "./helpers/totp.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");
const RECOVERY_RE = /^[0-9a-z]{5}-[0-9a-z]{5}$/;

describe("RFC 6238 helper of the tests", () => {
  it("matches RFC 6238's SHA-1 test vectors (8 digits)", () => {
    const key = Buffer.from("12345678901234567890");
    const vectors: Array<[number, string]> = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
    ];
    for (const [t, code] of vectors) expect(hotp(key, Math.floor(t / 30), 8)).toBe(code);
  });
});

describe.each(DB_KINDS)("tessera login and tessera mfa with TOTP on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full", MFA_ENCRYPTION_KEY: randomBytes(32).toString("hex") } });
  let user: SignedUp;
  let home = "";
  let env: Record<string, string> = {};
  let secret = "";
  let recoveryCodes: string[] = [];
  const used = new Set<number>();

  /** Runs the CLI with `input` on stdin (closed after it). */
  function tessera(args: string[], extra: Record<string, string> = {}, input = ""): Promise<CliRun> {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env, ...extra }, stdio: "pipe" });
    const done = outputOf(child);
    child.stdin.end(input);
    return done;
  }
  /** The stored tokens of this server (none when logged out: `logout` may remove the file). */
  const storedTokens = (): Record<string, string> => {
    const file = path.join(home, "config", "credentials.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")).servers[t.server.baseUrl] ?? {}) : {};
  };
  const login = (extra: Record<string, string> = {}, args: string[] = [], input = "") =>
    tessera(["login", "--password", "--email", user.email, ...args], { TESSERA_PASSWORD: user.password, ...extra }, input);

  beforeAll(async () => {
    user = await t.signUp();
    home = mkdtempSync(path.join(tmpdir(), "tessera-mfa-cli-"));
    env = { HOME: home, TESSERA_API_URL: t.server.baseUrl, TESSERA_CONFIG_DIR: path.join(home, "config"), LOG_LEVEL: "warn" };
  });
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("enrolls: the secret on stdout, a code on stdin, 10 recovery codes printed once", async () => {
    expect((await login()).code).toBe(0);
    const off = await tessera(["mfa", "status", "-o", "json"]);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({ totpEnabled: false, recoveryCodesRemaining: 0 });

    // A wrong password (TESSERA_PASSWORD) is refused before any secret is shown.
    const wrong = await tessera(["mfa", "enroll"], { TESSERA_PASSWORD: `${user.password}-not` });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/current password is incorrect/);
    expect(wrong.stdout).not.toMatch(/Secret:|otpauth:/);

    const child = spawn(process.execPath, [BIN, "mfa", "enroll"], { cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: "pipe" });
    const done = outputOf(child);
    // The password first (no TESSERA_PASSWORD here: the first line of stdin), the code once the secret is shown.
    child.stdin.write(`${user.password}\n`);
    let printed = "";
    secret = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        printed += d.toString("utf8");
        const m = /^Secret: ([A-Z2-7]+)$/m.exec(printed);
        if (m) resolve(m[1]!);
      });
      child.on("close", () => reject(new Error(`enroll ended without a secret: ${printed}`)));
    });
    child.stdin.end(`${freshTotp(secret, used, t.clock)}\n`);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^otpauth://totp/[^?]+\\?.*secret=${secret}`));
    expect(lines[1]).toBe(`Secret: ${secret}`);
    recoveryCodes = lines.slice(2);
    expect(recoveryCodes).toHaveLength(10);
    for (const c of recoveryCodes) expect(c).toMatch(RECOVERY_RE);
    expect(r.stderr).toContain("Two-factor authentication is on");

    const on = await tessera(["mfa", "status"]);
    expect(on.stdout).toMatch(/Two-factor:\s+on/);
    expect(on.stdout).toMatch(/Recovery codes left:\s+10/);
  }, 90_000);

  it("login needs the code: none (exit 2, nothing stored), a wrong one (exit 1), then --code", async () => {
    expect((await tessera(["logout"])).code).toBe(0);
    const none = await login();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/two-factor authentication: pass --code/);
    expect(storedTokens().accessToken).toBeUndefined();

    const window = [-1, 0, 1, 2].map((offset) => totp(secret, t.clock.now().getTime(), offset));
    const wrongCode = ["000000", "111111", "222222", "333333", "444444"].find((c) => !window.includes(c))!;
    const wrong = await login({}, ["--code", wrongCode]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong code.*check the code/);

    const ok = await login({}, ["--code", freshTotp(secret, used, t.clock)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`Logged in to ${t.server.baseUrl} as ${user.email}`);
    const me = await t.server.client(AuthService, { token: storedTokens().accessToken! }).checkToken({});
    expect(me.userId).toBe(user.userId);
    expect(me.amr).toEqual(expect.arrayContaining(["pwd", "otp"]));
    expect(me.assuranceLevel).toBe(2);
    const who = await tessera(["whoami"]);
    expect(who.stdout).toMatch(/Second factor:\s+yes \(pwd, otp, mfa\)/);
  }, 90_000);

  it("login with the password and then the code on stdin (the prompt of a script)", async () => {
    expect((await tessera(["logout"])).code).toBe(0);
    const r = await tessera(["login", "--password", "--email", user.email], {}, `${user.password}\n${freshTotp(secret, used, t.clock)}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect((await tessera(["whoami"])).code).toBe(0);
  }, 90_000);

  it("login with a recovery code, once: the same code is refused the second time; 9 are left", async () => {
    expect((await tessera(["logout"])).code).toBe(0);
    const first = await login({}, ["--recovery-code", recoveryCodes[0]!]);
    expect(first.code, first.stderr).toBe(0);
    const me = await t.server.client(AuthService, { token: storedTokens().accessToken! }).checkToken({});
    expect(me.assuranceLevel).toBe(2);
    expect(me.amr).not.toContain("otp");
    expect((await tessera(["logout"])).code).toBe(0);
    const again = await login({}, ["--recovery-code", recoveryCodes[0]!]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/wrong code/);
    expect(storedTokens().accessToken).toBeUndefined();
    expect((await login({}, ["--code", freshTotp(secret, used, t.clock)])).code).toBe(0);
    const st = await tessera(["mfa", "status", "-o", "json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({ totpEnabled: true, recoveryCodesRemaining: 9 });
  }, 90_000);

  // Every code sent (right or wrong) counts against the per-user limit of 10 in 15 minutes:
  // this describe sends 9.
  it("new recovery codes (code from TESSERA_MFA_CODE) replace the old ones; disable turns TOTP off", async () => {
    const regen = await tessera(["mfa", "recovery-codes", "-o", "json"], { TESSERA_MFA_CODE: freshTotp(secret, used, t.clock) });
    expect(regen.code, regen.stderr).toBe(0);
    const fresh = (JSON.parse(regen.stdout) as { recoveryCodes: string[] }).recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recoveryCodes[2]);
    const st = await tessera(["mfa", "status", "-o", "json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({ totpEnabled: true, recoveryCodesRemaining: 10 });

    const off = await tessera(["mfa", "disable", "--code", freshTotp(secret, used, t.clock)], { TESSERA_PASSWORD: user.password });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stderr).toContain("Two-factor authentication is off");
    expect((await tessera(["logout"])).code).toBe(0);
    const plain = await login();
    expect(plain.code, plain.stderr).toBe(0);
    const me = await t.server.client(AuthService, { token: storedTokens().accessToken! }).checkToken({});
    expect(me.assuranceLevel).toBe(1);
  }, 120_000);
});

describe("tessera login's prompt on a terminal, and tessera mfa reset by an instance admin", () => {
  const t = useTessera({ env: { AUTH_MODE: "full", MFA_ENCRYPTION_KEY: randomBytes(32).toString("hex") } });
  let home = "";
  let user: SignedUp;
  let secret = "";
  const used = new Set<number>();
  const cliEnv = () => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    TESSERA_API_URL: t.server.baseUrl,
    TESSERA_CONFIG_DIR: path.join(home, "config"),
  });
  const run = async (args: string[], extra: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { ...cliEnv(), ...extra }, stdio: "pipe" });
    const done = outputOf(child);
    child.stdin.end();
    return done;
  };

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), "tessera-mfa-tty-"));
    // The user: enrolled through the API, with a code computed here.
    user = await t.signUp();
    const mfa = t.server.client(MfaService, { token: user.accessToken });
    ({ secret } = await mfa.startTotpEnrollment({ password: user.password }));
    await mfa.confirmTotpEnrollment({ code: freshTotp(secret, used, t.clock) });
  });
  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("asks for the code on a terminal (a pseudo-terminal from util-linux `script`), and again after a wrong one", async () => {
    const command = [process.execPath, BIN, "login", "--password", "--email", user.email].map((a) => `'${a}'`).join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: root, env: { ...cliEnv(), TESSERA_PASSWORD: user.password }, stdio: "pipe" });
    const done = outputOf(child);
    let screen = "";
    let ended = false;
    child.stdout.on("data", (d: Buffer) => (screen += d.toString("utf8")));
    child.on("close", () => (ended = true));
    /** Waits (polling, bounded) until what the terminal shows after `from` matches. */
    const waitFor = async (re: RegExp, from: number) => {
      for (let i = 0; i < 600 && !re.test(screen.slice(from)); i++) {
        if (ended) throw new Error(`the CLI ended before ${re}: ${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(screen.slice(from)).toMatch(re);
    };
    await waitFor(/Code from your authenticator app \(or a recovery code\): /, 0);
    const window = [-1, 0, 1, 2].map((offset) => totp(secret, t.clock.now().getTime(), offset));
    const wrong = ["000000", "111111", "222222", "333333"].find((c) => !window.includes(c))!;
    let mark = screen.length;
    child.stdin.write(`${wrong}\r`);
    await waitFor(/That code was not accepted: try the current one\.[\s\S]*Code from your authenticator app/, mark);
    mark = screen.length;
    child.stdin.write(`${freshTotp(secret, used, t.clock)}\r`);
    const r = await done;
    expect(r.code, screen).toBe(0);
    expect(screen.slice(mark)).toContain(`Logged in to ${t.server.baseUrl} as ${user.email}`);
  }, 90_000);

  it("mfa reset asks for --yes without a terminal, refuses non-admins, resets once; the user signs in with the password alone", async () => {
    expect(
      (await createTesseraClient({ baseUrl: t.server.baseUrl })
        .signIn(user.email, user.password)
        .catch((e: unknown) => e)) instanceof MfaRequiredError,
    ).toBe(true);
    const admin = await t.signUp();
    expect((await run(["login", "--password", "--email", admin.email], { TESSERA_PASSWORD: admin.password })).code).toBe(0);
    const notAdmin = await run(["mfa", "reset", user.userId, "--yes"]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/permission denied/);
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", admin.userId).execute();
    const unconfirmed = await run(["mfa", "reset", user.userId]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("pass --yes");
    const reset = await run(["mfa", "reset", user.userId, "--yes"]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toContain(`The second factor of user ${user.userId} is removed`);
    const again = await run(["mfa", "reset", user.userId, "--yes"]);
    expect(again.code).toBe(1);
    expect((await createTesseraClient({ baseUrl: t.server.baseUrl }).signIn(user.email, user.password)).accessToken).toBeTruthy();
  }, 90_000);
});
