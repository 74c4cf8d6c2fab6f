/**
 * AuthService GetAuthorizeUrl and ExchangeCode: sign-in through the OpenID provider
 * (authorization code + PKCE), delegated to the login flow of `auth/oidc/login.ts`.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { OidcAuth } from "../../auth/oidc/provider.js";

/** GetAuthorizeUrl and ExchangeCode. */
export function providerLoginHandlers(oidc: OidcAuth): Pick<ServiceImpl<typeof AuthService>, "getAuthorizeUrl" | "exchangeCode"> {
  return {
    getAuthorizeUrl: (req, ctx) => oidc.login.getAuthorizeUrl(req, ctx),
    exchangeCode: (req, ctx) => oidc.login.exchangeCode(req, ctx),
  };
}
