/**
 * Which procedures AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION covers: every one that mints a
 * machine credential, and only for people whose session did not pass a second factor.
 */
import { describe, expect, it } from "vitest";
import { API_KEY_CREATION, POLICY, secondFactorRequired } from "../../packages/server/src/auth/policy/policy.js";
import type { Principal } from "../../packages/server/src/auth/request/principal.js";

const person = (assuranceLevel: 1 | 2): Principal => ({
  kind: "user",
  userId: "00000000-0000-4000-8000-000000000001",
  expiresAt: new Date(Date.now() + 60_000),
  sessionId: undefined,
  tokenId: "t",
  amr: assuranceLevel === 2 ? ["pwd", "otp", "mfa"] : ["pwd"],
  assuranceLevel,
});
const onlyKeyCreation = { forAdmins: false, forApiKeyCreation: true };

describe("AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION", () => {
  it("finding: a client-certificate mapping (a machine credential) could be created at level 1 when only key creation needed MFA", () => {
    const key = "ClientCertService/CreateAccountClientCert";
    expect(secondFactorRequired(POLICY[key]!, key, person(1), onlyKeyCreation)).toBe(true);
    expect(secondFactorRequired(POLICY[key]!, key, person(2), onlyKeyCreation)).toBe(false);
  });

  it("covers every procedure that mints a credential and nothing read-only", () => {
    for (const key of API_KEY_CREATION) {
      expect(POLICY[key], key).toBeDefined();
      expect(secondFactorRequired(POLICY[key]!, key, person(1), onlyKeyCreation), key).toBe(true);
    }
    for (const key of ["ApiKeyService/GetAccountApiKeys", "ClientCertService/ListAccountClientCerts", "UserAccountService/GetUser"]) {
      expect(secondFactorRequired(POLICY[key]!, key, person(1), onlyKeyCreation), key).toBe(false);
    }
  });
});
