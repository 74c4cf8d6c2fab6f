/**
 * AuthService GetAuthorizeUrl and ExchangeCode: sign-in through an identity provider
 * (authorization code + PKCE), delegated to the login flow of
 * `auth/providers/login-flow.ts`. With `link: true`, GetAuthorizeUrl (a public RPC)
 * authenticates the caller's bearer itself: only a signed-in human may link.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { ProviderAuth } from "../../auth/providers/registry.js";
import { authenticateBearer, type CredentialVerifier } from "../../auth/request/interceptor.js";

/** GetAuthorizeUrl and ExchangeCode; `verifiers` authenticate the caller of a link login. */
export function providerLoginHandlers(
  providers: ProviderAuth,
  verifiers: readonly CredentialVerifier[],
): Pick<ServiceImpl<typeof AuthService>, "getAuthorizeUrl" | "exchangeCode"> {
  return {
    async getAuthorizeUrl(req, ctx) {
      let linkUserId: string | null = null;
      if (req.link) {
        const principal = await authenticateBearer(ctx.requestHeader.get("authorization"), verifiers);
        if (principal.kind !== "user" && principal.kind !== "oidc_user") {
          throw new ConnectError("only a signed-in user can link a provider account", Code.PermissionDenied);
        }
        linkUserId = principal.userId;
      }
      return providers.login.getAuthorizeUrl(req, ctx, linkUserId);
    },
    exchangeCode: (req, ctx) => providers.login.exchangeCode(req, ctx),
  };
}
