/**
 * Device login (RFC 8628) over real servers on PostgreSQL and PGlite: a program starts
 * a login, a signed-in person approves or denies it by user code, the program's polls
 * answer PENDING, SLOW_DOWN (the interval grows by 5 s), DENIED, EXPIRED (the injected
 * clock moved past 10 minutes) and, once approved, a new session's tokens exactly once,
 * even to concurrent polls. User-code tries are limited per user and per network, the
 * codes are stored only as hashes, and the device code never reaches the logs or the
 * audit trail. The CLI and console end to end: test/device-login-e2e.test.ts.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { DeviceLoginService, DeviceLoginStatus } from "../packages/sdk/src/gen/tessera/v1/device_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { claimApprovedDeviceLogin, deleteExpiredDeviceLogins, insertDeviceLogin } from "../packages/server/src/store/device-logins.js";
import { normalizeUserCode, USER_CODE_ALPHABET } from "../packages/server/src/auth/device/codes.js";
import { readClientConfig } from "../packages/cli/src/client-config.js";
import { DB_KINDS, useTessera } from "./harness.js";
import { codeOf, expectCode } from "./helpers/outcome.js";

const PUBLIC_URL = "https://auth.example.test";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const CODE_RE = new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`);

/** A user code no live login has (the ones handed out are random). */
function unusedCode(i: number): string {
  const a = USER_CODE_ALPHABET;
  return `${a[i % 20]}${a[Math.floor(i / 20) % 20]}BB-BBBB`;
}

describe("user codes", () => {
  it("normalize case, dashes and spaces; refuse other letters and lengths", () => {
    expect(normalizeUserCode("bcdf-ghjk")).toBe("BCDFGHJK");
    expect(normalizeUserCode(" BCDF GHJK ")).toBe("BCDFGHJK");
    expect(normalizeUserCode("bcdfghjk")).toBe("BCDFGHJK");
    expect(normalizeUserCode("ｂｃｄｆ－ｇｈｊｋ")).toBe("BCDFGHJK"); // full-width, as some keyboards type
    expect(normalizeUserCode("BCDF-GHJ")).toBeUndefined();
    expect(normalizeUserCode("ABCD-EFGH")).toBeUndefined(); // vowels are not in the alphabet
    expect(normalizeUserCode("BCDF-GHJ1")).toBeUndefined();
    expect(normalizeUserCode("B".repeat(100))).toBeUndefined();
  });
});

describe("when the CLI cannot open a browser (tessera login falls back to the device login)", () => {
  const reason = (env: Record<string, string>, platform: NodeJS.Platform = "linux") => readClientConfig(env, platform).noBrowserReason;
  it("says why: TESSERA_NO_BROWSER, SSH, no display, no xdg-open; never on a desktop", () => {
    const desktop = { DISPLAY: ":0", PATH: "/usr/bin:/bin" };
    expect(reason({ ...desktop, TESSERA_NO_BROWSER: "1" })).toBe("TESSERA_NO_BROWSER is set");
    expect(reason({ ...desktop, TESSERA_NO_BROWSER: "0" })).not.toBe("TESSERA_NO_BROWSER is set");
    expect(reason({ ...desktop, SSH_CONNECTION: "192.0.2.1 5000 192.0.2.2 22" })).toBe("this is an SSH session");
    expect(reason({ PATH: "/usr/bin:/bin" })).toBe("no DISPLAY or WAYLAND_DISPLAY");
    expect(reason({ WAYLAND_DISPLAY: "wayland-0", PATH: "/nonexistent" })).toBe("no xdg-open on PATH");
    expect(reason({}, "darwin")).toBeUndefined();
    expect(reason({ SSH_TTY: "/dev/pts/1" }, "darwin")).toBe("this is an SSH session");
  });
});

describe.each(DB_KINDS)("device login (RFC 8628) on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full", TESSERA_PUBLIC_URL: PUBLIC_URL }, forwardedFor: true });
  /** The program: one address, no credentials. */
  const device = (ip = "198.51.100.7") => t.client(DeviceLoginService, { ip, headers: { "user-agent": "tessera-cli/test" } });
  const asUser = (token: string, ip?: string) => t.client(DeviceLoginService, { token, ip });

  async function start(name = "tessera CLI on build-7", ip?: string) {
    return device(ip ?? t.freshIp()).startDeviceLogin({ clientName: name });
  }

  it("starts a login: a 256-bit device code, an XXXX-XXXX user code, the console's URLs, 5 s and 10 minutes; only hashes stored", async () => {
    const s = await start();
    expect(s.deviceCode).toMatch(/^tdc_[A-Za-z0-9_-]{43}$/);
    expect(s.userCode).toMatch(CODE_RE);
    expect(s.verificationUri).toBe(`${PUBLIC_URL}/console/device`);
    expect(s.verificationUriComplete).toBe(`${PUBLIC_URL}/console/device?user_code=${s.userCode}`);
    expect(s.interval).toBe(5);
    expect(s.expiresIn).toBe(600);
    const row = await t.database.db.kysely
      .selectFrom("device_logins")
      .selectAll()
      .where("device_code_hash", "=", sha256(s.deviceCode))
      .executeTakeFirstOrThrow();
    expect(row.user_code_hash).toBe(sha256(s.userCode.replace("-", "")));
    expect(JSON.stringify(row)).not.toContain(s.deviceCode);
    expect(JSON.stringify(row)).not.toContain(s.userCode.replace("-", ""));
  });

  it("pending, slow_down (+5 s), approve, the tokens once (a new session of the approver), then NotFound; audited; never logged", async () => {
    const approver = await t.signUp({ name: "Approver" });
    const ip = t.freshIp();
    const s = await start("laptop over ssh", ip);

    const first = await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode });
    expect(first).toMatchObject({ status: DeviceLoginStatus.PENDING, interval: 5 });
    expect(first.tokens).toBeUndefined();
    // Polled again at once: slow down, the interval grows by 5 s for good.
    const fast = await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode });
    expect(fast).toMatchObject({ status: DeviceLoginStatus.SLOW_DOWN, interval: 10 });
    t.clock.advance(10);
    expect(await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).toMatchObject({ status: DeviceLoginStatus.PENDING, interval: 10 });

    // The person sees what they approve (the code typed loosely).
    const loose = ` ${s.userCode.toLowerCase().replace("-", " ")} `;
    const { deviceLogin } = await asUser(approver.accessToken).getDeviceLogin({ userCode: loose });
    expect(deviceLogin).toMatchObject({
      userCode: s.userCode,
      clientName: "laptop over ssh",
      clientIp: ip,
      userAgent: expect.stringContaining("tessera-cli/test"),
    });
    expect(deviceLogin!.expiresAt!.seconds - deviceLogin!.createdAt!.seconds).toBe(600n);
    await asUser(approver.accessToken).approveDeviceLogin({ userCode: s.userCode });
    // Decided once.
    await expectCode(asUser(approver.accessToken).approveDeviceLogin({ userCode: s.userCode }), Code.NotFound);
    await expectCode(asUser(approver.accessToken).denyDeviceLogin({ userCode: s.userCode }), Code.NotFound);
    await expectCode(asUser(approver.accessToken).getDeviceLogin({ userCode: s.userCode }), Code.NotFound);

    t.clock.advance(10);
    const got = await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode });
    expect(got.status).toBe(DeviceLoginStatus.APPROVED);
    const me = await t.client(AuthService, { token: got.tokens!.accessToken }).checkToken({});
    expect(me.userId).toBe(approver.userId);
    expect(got.tokens!.userId).toBe(approver.userId);
    // A real session: it refreshes, and it is not the approver's browser session.
    const refreshed = await t.client(AuthService).refreshToken({ refreshToken: got.tokens!.refreshToken });
    expect(refreshed.tokens!.userId).toBe(approver.userId);
    const { sessions } = await t.client(AuthService, { token: approver.accessToken }).listSessions({});
    expect(sessions.length).toBe(2);

    // Once: the next poll, however late, is NotFound.
    t.clock.advance(10);
    await expectCode(device(ip).pollDeviceLogin({ deviceCode: s.deviceCode }), Code.NotFound);

    await t.server.app.deps.audit.flush();
    const events = await t.database.db.kysely.selectFrom("audit_events").selectAll().where("action", "like", "device_login.%").execute();
    const mine = events.filter((e) => JSON.stringify(e.metadata).includes("laptop over ssh"));
    expect(mine.map((e) => e.action).sort()).toEqual(["device_login.approve.success", "device_login.start.success", "device_login.token.success"]);
    expect(mine.find((e) => e.action === "device_login.approve.success")!.actor_user_id).toBe(approver.userId);
    // Neither code in the log lines or the audit trail.
    const everything = `${t.server.logs.join("\n")}\n${JSON.stringify(events)}`;
    expect(everything).not.toContain(s.deviceCode.slice(4));
    expect(everything).not.toContain(s.deviceCode.slice(-20));
    expect(everything).not.toContain(s.userCode.replace("-", ""));
    expect(t.server.logs.some((l) => l.includes("PollDeviceLogin"))).toBe(true); // the polls were logged, without the code
  });

  it("deny: the program hears DENIED and stops; the code cannot be approved afterwards", async () => {
    const person = await t.signUp();
    const ip = t.freshIp();
    const s = await start("someone else's laptop", ip);
    await asUser(person.accessToken).denyDeviceLogin({ userCode: s.userCode });
    expect((await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).status).toBe(DeviceLoginStatus.DENIED);
    await expectCode(asUser(person.accessToken).approveDeviceLogin({ userCode: s.userCode }), Code.NotFound);
    t.clock.advance(5);
    expect((await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).status).toBe(DeviceLoginStatus.DENIED);
  });

  it("expires after 10 minutes: EXPIRED to the program, NotFound to the person", async () => {
    const person = await t.signUp();
    const ip = t.freshIp();
    const s = await start("slow person", ip);
    t.clock.advance(599);
    expect((await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).status).toBe(DeviceLoginStatus.PENDING);
    t.clock.advance(2);
    expect((await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).status).toBe(DeviceLoginStatus.EXPIRED);
    await expectCode(asUser(person.accessToken).approveDeviceLogin({ userCode: s.userCode }), Code.NotFound);
    await expectCode(asUser(person.accessToken).getDeviceLogin({ userCode: s.userCode }), Code.NotFound);
  });

  it("approved but polled only after expiry: EXPIRED, no tokens", async () => {
    const person = await t.signUp();
    const ip = t.freshIp();
    const s = await start("late poller", ip);
    await asUser(person.accessToken).approveDeviceLogin({ userCode: s.userCode });
    t.clock.advance(601);
    expect((await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })).status).toBe(DeviceLoginStatus.EXPIRED);
  });

  it("concurrent polls after approval: exactly one gets tokens", async () => {
    const person = await t.signUp();
    const ip = t.freshIp();
    const s = await start("racing pollers", ip);
    await asUser(person.accessToken).approveDeviceLogin({ userCode: s.userCode });
    t.clock.advance(5);
    const answers = await Promise.allSettled(Array.from({ length: 12 }, () => device(ip).pollDeviceLogin({ deviceCode: s.deviceCode })));
    const approved = answers.filter((a) => a.status === "fulfilled" && a.value.status === DeviceLoginStatus.APPROVED);
    expect(approved.length).toBe(1);
    for (const a of answers) {
      if (a.status === "fulfilled") expect([DeviceLoginStatus.APPROVED, DeviceLoginStatus.SLOW_DOWN]).toContain(a.value.status);
      else expect(Code[(a.reason as { code: Code }).code]).toBe("NotFound");
    }
  });

  it("concurrent decisions on one code: exactly one person's wins", async () => {
    const people = await Promise.all([t.signUp(), t.signUp(), t.signUp(), t.signUp()]);
    const s = await start("contested");
    const outcomes = await Promise.all(
      people.map((p, i) =>
        codeOf(i % 2 ? asUser(p.accessToken).denyDeviceLogin({ userCode: s.userCode }) : asUser(p.accessToken).approveDeviceLogin({ userCode: s.userCode })),
      ),
    );
    expect(outcomes.filter((o) => o === "ok").length).toBe(1);
    expect(outcomes.filter((o) => o === Code.NotFound).length).toBe(3);
  });

  it("a user disabled after approving gets no session: DENIED", async () => {
    const person = await t.signUp();
    const ip = t.freshIp();
    const s = await start("approved, then disabled", ip);
    await asUser(person.accessToken).approveDeviceLogin({ userCode: s.userCode });
    await t.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", person.userId).execute();
    const r = await device(ip).pollDeviceLogin({ deviceCode: s.deviceCode });
    expect(r.status).toBe(DeviceLoginStatus.DENIED);
    expect(r.tokens).toBeUndefined();
  });

  it("the claim itself is atomic: of concurrent claims of one approved row exactly one gets the user", async () => {
    const person = await t.signUp();
    const db = t.database.db.kysely;
    const now = t.clock.now();
    const row = await insertDeviceLogin(db, {
      deviceCodeHash: sha256(`claim-${Math.random()}`),
      userCodeHash: sha256(`claim-user-${Math.random()}`),
      clientName: "claim",
      clientIp: "192.0.2.1",
      userAgent: "",
      intervalSeconds: 5,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 600_000),
    });
    await db.updateTable("device_logins").set({ status: "approved", user_id: person.userId }).where("id", "=", row!.id).execute();
    const claims = await Promise.all(Array.from({ length: 10 }, () => claimApprovedDeviceLogin(db, row!.id, now)));
    expect(claims.filter((c) => c === person.userId).length).toBe(1);
    expect(claims.filter((c) => c === undefined).length).toBe(9);
  });

  it("limits tries at user codes: 10 a minute per user (from any address), 20 a minute per network", async () => {
    const guesser = await t.signUp();
    const ip = t.freshIp();
    const outcomes = [];
    for (let i = 0; i < 10; i++) outcomes.push(await codeOf(asUser(guesser.accessToken, ip).approveDeviceLogin({ userCode: unusedCode(i) })));
    expect(outcomes.every((o) => o === Code.NotFound)).toBe(true);
    const over = await expectCode(asUser(guesser.accessToken, ip).getDeviceLogin({ userCode: unusedCode(10) }), Code.ResourceExhausted);
    expect(Number(over.metadata.get("retry-after"))).toBeGreaterThan(0);
    // Another address does not help the same user.
    await expectCode(asUser(guesser.accessToken, t.freshIp()).denyDeviceLogin({ userCode: unusedCode(11) }), Code.ResourceExhausted);
    // Another user on the same network has what is left of the network's 20: 11 tries were counted there.
    const accomplice = await t.signUp();
    for (let i = 0; i < 9; i++) expect(await codeOf(asUser(accomplice.accessToken, ip).getDeviceLogin({ userCode: unusedCode(20 + i) }))).toBe(Code.NotFound);
    await expectCode(asUser(accomplice.accessToken, ip).getDeviceLogin({ userCode: unusedCode(29) }), Code.ResourceExhausted);
    // A minute later both may try again.
    t.clock.advance(61);
    expect(await codeOf(asUser(guesser.accessToken, ip).getDeviceLogin({ userCode: unusedCode(30) }))).toBe(Code.NotFound);
  });

  it("limits starts per network: 10 a minute", async () => {
    const ip = t.freshIp();
    for (let i = 0; i < 10; i++) await start(`flood ${i}`, ip);
    await expectCode(start("one too many", ip), Code.ResourceExhausted);
  });

  it("refuses malformed input and API keys", async () => {
    const person = await t.signUp();
    const dev = device(t.freshIp());
    await expectCode(dev.startDeviceLogin({ clientName: "" }), Code.InvalidArgument);
    await expectCode(dev.startDeviceLogin({ clientName: "x".repeat(101) }), Code.InvalidArgument);
    await expectCode(dev.startDeviceLogin({ clientName: "line\nforged" }), Code.InvalidArgument);
    await expectCode(dev.pollDeviceLogin({ deviceCode: "tdc_short" }), Code.InvalidArgument);
    await expectCode(dev.pollDeviceLogin({ deviceCode: `tdc_${"A".repeat(43)}` }), Code.NotFound);
    await expectCode(asUser(person.accessToken).getDeviceLogin({ userCode: "AEIO-UUUU" }), Code.InvalidArgument);
    // An API key is not a person.
    const { accounts } = await t.client(UserAccountService, { token: person.accessToken }).getUserAccounts({});
    const key = await t.client(ApiKeyService, { token: person.accessToken }).createAccountApiKey({
      accountId: accounts[0]!.id,
      name: "bot",
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    const s = await start();
    await expectCode(asUser(key.keyValue).approveDeviceLogin({ userCode: s.userCode }), Code.PermissionDenied);
    // Credentials are not interchangeable: a device code is no bearer, a token no device code.
    await expectCode(t.client(AuthService, { token: s.deviceCode }).checkToken({}), Code.Unauthenticated);
    await expectCode(dev.pollDeviceLogin({ deviceCode: person.accessToken }), Code.InvalidArgument);
    await expectCode(dev.pollDeviceLogin({ deviceCode: person.refreshToken }), Code.InvalidArgument);
  });

  it("answers hostile values in every string field with a client error, never an internal one", async () => {
    const hostile = [
      "' OR 1=1; DROP TABLE device_logins; --",
      "x".repeat(1_000_000),
      "abc\u0000def",
      Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28]).toString("latin1"),
      "ab\ud800cd",
      "\u202EKJHG-FDCB",
      "ＢＣＤＦ-ＧＨＪＫ",
      "%00%27%22",
      " \t\n ",
      `tdc_${"ü".repeat(43)}`,
    ];
    const fields: Record<string, string> = {
      StartDeviceLogin: "clientName",
      PollDeviceLogin: "deviceCode",
      GetDeviceLogin: "userCode",
      ApproveDeviceLogin: "userCode",
      DenyDeviceLogin: "userCode",
    };
    for (const [method, field] of Object.entries(fields)) {
      for (const value of hostile) {
        // A fresh person and address each time: the limits are tested above.
        const token = field === "userCode" ? (await t.signUp()).accessToken : undefined;
        const res = await fetch(`${t.server.baseUrl}/tessera.v1.DeviceLoginService/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": t.freshIp(), ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ [field]: value }),
        });
        const text = await res.text();
        const code = res.status === 200 ? "ok" : (JSON.parse(text) as { code?: string }).code;
        expect(
          ["ok", "invalid_argument", "not_found", "resource_exhausted"],
          `${method} ${JSON.stringify(value.slice(0, 40))}: ${text.slice(0, 200)}`,
        ).toContain(code);
      }
    }
  }, 120_000);

  it("deletes logins an hour past expiry, in bounded batches", async () => {
    const db = t.database.db.kysely;
    const long = new Date(t.clock.now().getTime() - 3 * 3600_000);
    for (let i = 0; i < 3; i++) {
      await insertDeviceLogin(db, {
        deviceCodeHash: sha256(`old-${i}-${Math.random()}`),
        userCodeHash: sha256(`old-user-${i}-${Math.random()}`),
        clientName: "old",
        clientIp: "192.0.2.1",
        userAgent: "",
        intervalSeconds: 5,
        createdAt: long,
        expiresAt: long,
      });
    }
    const cutoff = new Date(t.clock.now().getTime() - 3600_000);
    expect(await deleteExpiredDeviceLogins(db, cutoff, 2)).toBe(2);
    expect(await deleteExpiredDeviceLogins(db, cutoff, 2)).toBeGreaterThanOrEqual(1);
    const left = await db.selectFrom("device_logins").select("id").where("expires_at", "<", cutoff).execute();
    expect(left).toEqual([]);
  });
});

describe("device login in AUTH_MODE=none", () => {
  const t = useTessera({ env: { AUTH_MODE: "none" } });
  it("is off: nothing to log in to", async () => {
    await expectCode(t.client(DeviceLoginService).startDeviceLogin({ clientName: "cli" }), Code.FailedPrecondition);
    await expectCode(t.client(DeviceLoginService).approveDeviceLogin({ userCode: "BCDF-GHJK" }), Code.FailedPrecondition);
  });
});
