/**
 * AuthService: thin handlers. Sign-in flows live in `src/auth/`; this file maps
 * requests to them and results to the wire.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { AuthMode, AuthService, PrincipalKind } from "@tessera/sdk/proto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Config } from "../../config/config.js";
import { requirePrincipal, type Principal } from "../../auth/request/principal.js";

export interface AuthServiceDeps {
  config: Readonly<Config>;
}

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

/** Builds the AuthService implementation. */
export function createAuthService(deps: AuthServiceDeps): Partial<ServiceImpl<typeof AuthService>> {
  const { config } = deps;
  const authConfig = {
    mode: MODE[config.authMode],
    passwordLoginEnabled: config.passwordLoginEnabled,
    signupEnabled: config.signupEnabled,
    oidcProviders: config.oidc
      ? [{ id: "default", name: "Single sign-on", issuer: config.oidc.expectedIssuer, clientId: config.oidc.clientId, scopes: config.oidc.scopes }]
      : [],
    issuer: config.publicUrl,
  };
  return {
    getAuthConfig() {
      return authConfig;
    },
    checkToken(_req, ctx) {
      const p = requirePrincipal(ctx);
      return {
        userId: p.userId,
        principalKind: KIND[p.kind],
        accountId: p.kind === "api_key" ? p.accountId : "",
        apiKeyId: p.kind === "api_key" ? p.apiKeyId : "",
        expiresAt: p.kind === "anonymous" ? undefined : timestampFromDate(p.expiresAt),
      };
    },
  };
}
