/**
 * AuthService: what the server offers (GetAuthConfig) and who the caller is (CheckToken).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuthMode, CheckTokenResponseSchema, PrincipalKind, ProviderKind, type AuthService, type CheckTokenResponse } from "@tessera/sdk/proto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Config } from "../../config/config.js";
import { providerIssuer } from "../../config/providers.js";
import { assuranceLevelOf, requirePrincipal, type Principal } from "../../auth/request/principal.js";

const MODE: Record<Config["authMode"], AuthMode> = {
  none: AuthMode.NONE,
  admin: AuthMode.ADMIN,
  full: AuthMode.FULL,
};

const KIND: Record<Principal["kind"], PrincipalKind> = {
  anonymous: PrincipalKind.ANONYMOUS,
  user: PrincipalKind.USER,
  oidc_user: PrincipalKind.OIDC_USER,
  api_key: PrincipalKind.API_KEY,
};

/** GetAuthConfig and CheckToken. */
export function configHandlers(config: Readonly<Config>): Pick<ServiceImpl<typeof AuthService>, "getAuthConfig" | "checkToken"> {
  const authConfig = {
    mode: MODE[config.authMode],
    passwordLoginEnabled: config.passwordLoginEnabled,
    signupEnabled: config.signupEnabled,
    // Every enabled provider, in sign-in order (the client id is public information; the secret never leaves).
    oidcProviders: config.providers.map((p) => ({
      id: p.id,
      name: p.name,
      issuer: providerIssuer(p),
      clientId: p.clientId,
      scopes: p.scopes,
      kind: p.kind === "oidc" ? ProviderKind.OIDC : ProviderKind.GITHUB,
    })),
    issuer: config.publicUrl,
  };
  return {
    getAuthConfig() {
      return authConfig;
    },
    checkToken(_req, ctx) {
      const p = requirePrincipal(ctx);
      if (p.kind !== "api_key") return checkTokenResponse(p);
      // An API key's principal is one frozen object per cached key (auth/api-keys/verifier.ts),
      // so its answer is built once, not on every call of a key checked again and again.
      let res = keyResponses.get(p);
      if (!res) {
        res = checkTokenResponse(p);
        keyResponses.set(p, res);
      }
      return res;
    },
  };
}

/** CheckToken's answers for API keys' principals, while those principals are in use. */
const keyResponses = new WeakMap<Principal, CheckTokenResponse>();

/** What CheckToken answers for `p`. */
function checkTokenResponse(p: Principal): CheckTokenResponse {
  return create(CheckTokenResponseSchema, {
    userId: p.userId,
    principalKind: KIND[p.kind],
    accountId: p.kind === "api_key" ? p.accountId : "",
    apiKeyId: p.kind === "api_key" ? p.apiKeyId : "",
    expiresAt: p.kind === "anonymous" ? undefined : timestampFromDate(p.expiresAt),
    scopes: p.kind === "api_key" ? [...p.scopes.scopes] : [],
    perCallLimits: p.kind === "api_key" && p.limits !== undefined,
    amr: p.kind === "user" ? [...p.amr] : [],
    assuranceLevel: assuranceLevelOf(p),
    clientCertThumbprint: p.kind === "api_key" ? (p.clientCertThumbprint ?? "") : "",
  });
}
