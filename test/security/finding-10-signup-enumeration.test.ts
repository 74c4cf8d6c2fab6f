/**
 * Finding 10 (issue 13): SignUp says which emails exist (`already_exists`) when it signs
 * users in at once (the default). That is a documented enumeration point, closed by
 * AUTH_REQUIRE_VERIFIED_EMAIL (issue 18: security/account-enumeration.test.ts), and
 * SignUp is limited tighter than Login: 5 a minute and 20 an hour per client network.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { callAs } from "../helpers/abuse.js";

describe("finding 10", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });
  const { clock } = t;

  const email = () => `probe-${randomBytes(5).toString("hex")}@example.com`;
  const password = `pw ${randomBytes(12).toString("base64")} enum`;

  it("finding 10: SignUp is limited to 5 a minute and 20 an hour per client network, tighter than Login", { timeout: 60_000 }, async () => {
    const ip = "198.51.100.20";
    const taken = email();
    // The enumeration point: a registered email answers AlreadyExists.
    expect((await callAs(t.server, "SignUp", { email: taken, password }, "198.51.100.21")).code).toBe("ok");
    const minute: string[] = [];
    for (let i = 0; i < 6; i++) minute.push((await callAs(t.server, "SignUp", { email: i === 0 ? taken : email(), password }, ip)).code);
    expect(minute).toEqual(["already_exists", "ok", "ok", "ok", "ok", "resource_exhausted"]);
    // Login from the same network is not affected by SignUp's limit.
    expect((await callAs(t.server, "Login", { email: taken, password }, ip)).code).toBe("ok");
    // Three more minutes of 5: 20 in the hour, then refused for the rest of the hour.
    for (let m = 0; m < 3; m++) {
      clock.advance(61);
      for (let i = 0; i < 5; i++) expect((await callAs(t.server, "SignUp", { email: email(), password }, ip)).code).toBe("ok");
    }
    clock.advance(61);
    const over = await callAs(t.server, "SignUp", { email: email(), password }, ip);
    expect(over.code).toBe("resource_exhausted");
    expect(over.retryAfter).toBeGreaterThan(60);
    expect(over.retryAfter).toBeLessThanOrEqual(3600);
    // Another network still signs up.
    expect((await callAs(t.server, "SignUp", { email: email(), password }, "198.51.100.22")).code).toBe("ok");
  });
});
