/**
 * The one place mapping services to implementations.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ApiKeyService, AuthService, UserAccountService } from "@tessera/sdk/proto";

/** Implementations of the three services; a missing method answers Unimplemented. */
export interface ServiceImpls {
  auth: Partial<ServiceImpl<typeof AuthService>>;
  apiKey: Partial<ServiceImpl<typeof ApiKeyService>>;
  userAccount: Partial<ServiceImpl<typeof UserAccountService>>;
}

/** Registers every service on a router. */
export function createRoutes(impls: ServiceImpls): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AuthService, impls.auth);
    router.service(ApiKeyService, impls.apiKey);
    router.service(UserAccountService, impls.userAccount);
  };
}
