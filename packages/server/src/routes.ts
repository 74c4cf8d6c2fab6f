/**
 * The one place mapping services to implementations.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ApiKeyService, AuthService, UserAccountService } from "@tessera/sdk/proto";

/** Complete implementations of the three services: a missing RPC is a compile error. */
export interface ServiceImpls {
  auth: ServiceImpl<typeof AuthService>;
  apiKey: ServiceImpl<typeof ApiKeyService>;
  userAccount: ServiceImpl<typeof UserAccountService>;
}

/** Registers every service on a router. */
export function createRoutes(impls: ServiceImpls): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AuthService, impls.auth);
    router.service(ApiKeyService, impls.apiKey);
    router.service(UserAccountService, impls.userAccount);
  };
}
