/**
 * The provider rules that need no server: roles from a claim path (a namespaced claim
 * looked up whole, a dotted Keycloak path, strings and lists) and who a provider admits
 * (verified email, allowed domains, Google's `hd`).
 */
import { NO_METRICS } from "../packages/server/src/metrics/metrics.js";
import { describe, expect, it } from "vitest";
import { admissionRefusal } from "../packages/server/src/auth/providers/admission.js";
import { createProviderAuth } from "../packages/server/src/auth/providers/registry.js";
import { claimHasRole } from "../packages/server/src/auth/providers/roles.js";
import { createLogger } from "../packages/server/src/lib/logger.js";
import { loadConfig, type OidcConfig } from "../packages/server/src/config/config.js";

describe("roles from a provider claim", () => {
  it("reads a namespaced claim whole, a dotted path into objects, strings and lists", () => {
    expect(claimHasRole({ "https://example.com/roles": ["admin", "dev"] }, "https://example.com/roles", "admin")).toBe(true);
    expect(claimHasRole({ "https://example.com/roles": "admin" }, "https://example.com/roles", "admin")).toBe(true);
    expect(claimHasRole({ realm_access: { roles: ["user", "tessera-admin"] } }, "realm_access.roles", "tessera-admin")).toBe(true);
    expect(claimHasRole({ realm_access: { roles: ["user"] } }, "realm_access.roles", "tessera-admin")).toBe(false);
    expect(claimHasRole({ realm_access: ["tessera-admin"] }, "realm_access.roles", "tessera-admin")).toBe(false);
    expect(claimHasRole({ roles: "administrator" }, "roles", "admin")).toBe(false);
    expect(claimHasRole({}, "__proto__.constructor", "x")).toBe(false);
  });
});

describe("who a provider admits", () => {
  const google = loadConfig({
    AUTH_MODE: "full",
    TESSERA_DATA_DIR: "memory://",
    AUTH_GOOGLE_CLIENT_ID: "g",
    AUTH_GOOGLE_CLIENT_SECRET: "s",
    AUTH_GOOGLE_ALLOWED_DOMAINS: "example.com",
  }).providers[0] as OidcConfig;
  const profile = (email: string | null, emailVerified = true) => ({ email, emailVerified, name: null, image: null });

  it.each([
    [profile("ada@example.com"), { hd: "example.com" }, undefined],
    [profile("ada@EXAMPLE.com"), { hd: "example.com" }, undefined],
    [profile(null), {}, "email_missing"],
    [profile("ada@example.com", false), { hd: "example.com" }, "email_unverified"],
    [profile("ada@evil.test"), { hd: "example.com" }, "domain_not_allowed"],
    [profile("ada@example.com.evil.test"), { hd: "example.com" }, "domain_not_allowed"],
    [profile("ada@example.com"), {}, "hosted_domain_not_allowed"],
    [profile("ada@example.com"), { hd: "evil.test" }, "hosted_domain_not_allowed"],
  ])("%j with %j: %s", (p, claims, reason) => {
    expect(admissionRefusal(google, p, claims)?.reason).toBe(reason);
  });

  it("admits anyone through the Neosync provider default, as before", () => {
    const def = loadConfig({ AUTH_MODE: "full", TESSERA_DATA_DIR: "memory://", AUTH_BASEURL: "https://idp.test", AUTH_AUDIENCE: "api" }).oidc!;
    expect(admissionRefusal(def, profile("x@any.test", false), {})).toBeUndefined();
  });
});

describe("provider startup", () => {
  it("stops with a line naming the provider that cannot be discovered", async () => {
    const config = loadConfig({
      AUTH_MODE: "full",
      TESSERA_DATA_DIR: "memory://",
      AUTH_PROVIDERS: JSON.stringify([{ id: "unreachable", kind: "oidc", issuer: "http://127.0.0.1:1", client_id: "c" }]),
    });
    const deps = {
      config,
      logger: createLogger({ json: true, level: "silent" }),
      db: undefined as never,
      audit: { record() {}, flush: async () => {} },
      access: undefined as never,
      clock: () => new Date(),
      metrics: NO_METRICS,
    };
    const providers = createProviderAuth(deps, { startSession: () => Promise.reject(new Error("not used")) }, { discovery: { attempts: 1 } });
    await expect(providers.start!()).rejects.toThrow(
      /^provider "unreachable": OpenID discovery at http:\/\/127\.0\.0\.1:1\/\.well-known\/openid-configuration failed/,
    );
  });
});
