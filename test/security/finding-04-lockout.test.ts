/**
 * Finding 4 (issue 13): anyone could lock a chosen user out. The per-email limit counted
 * every attempt from every IP and then refused even the right password from a clean IP.
 * Now only failures count, the hard limit is per email *and* client network, and a
 * client without recent failures gets through (after the bounded tarpit).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import { callAs } from "../helpers/abuse.js";

const WRONG = "not the password at all 1";

describe.each(DB_KINDS)("finding 4 on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });
  const { clock } = t;

  it("finding 4: failed logins from many IPs and from one IP cannot lock the owner out of a clean IP", { timeout: 90_000 }, async () => {
    const email = `victim-${randomBytes(4).toString("hex")}@example.com`;
    const password = `pw ${randomBytes(12).toString("base64")} owner`;
    expect((await callAs(t.server, "SignUp", { email, password }, "192.0.2.10")).code).toBe("ok");
    const login = (pw: string, ip: string, who = email) => callAs(t.server, "Login", { email: who, password: pw }, ip);

    // At once: a distributed attack (24 networks, one wrong password each) and one network
    // hammering the same email (15 wrong passwords).
    const [spread, hammer] = await Promise.all([
      Promise.all(Array.from({ length: 24 }, (_, i) => login(WRONG, `198.51.100.${i + 1}`))),
      Promise.all(Array.from({ length: 15 }, () => login(WRONG, "203.0.113.7"))),
    ]);

    // The owner, from a network with no recent failures, gets in (after at most the 10 s tarpit).
    const owner = await login(password, "192.0.2.77");
    expect(owner.code, `owner refused: ${owner.status} retry-after ${owner.retryAfter}`).toBe("ok");

    expect(spread.map((r) => r.code)).toEqual(Array(24).fill("unauthenticated"));
    // The hammering network is held to 10 attempts a minute.
    expect(hammer.filter((r) => r.code === "unauthenticated")).toHaveLength(10);
    expect(hammer.filter((r) => r.code === "resource_exhausted")).toHaveLength(5);

    // A minute later its per-network minute window is over, but its 10 failures on this
    // email stand for 15 minutes: refused for this email even with the right password...
    clock.advance(61);
    const again = await login(password, "203.0.113.7");
    expect(again.code).toBe("resource_exhausted");
    expect(again.retryAfter).toBeGreaterThan(60);
    expect(again.retryAfter).toBeLessThanOrEqual(900);
    // ...while the same network may still try other emails, and the owner still gets in.
    expect((await login(WRONG, "203.0.113.7", `other-${randomBytes(4).toString("hex")}@example.com`)).code).toBe("unauthenticated");
    expect((await login(password, "192.0.2.78")).code).toBe("ok");
    // After the 15 minutes the hammering network may try this email again.
    clock.advance(15 * 60);
    expect((await login(password, "203.0.113.7")).code).toBe("ok");
  });
});
