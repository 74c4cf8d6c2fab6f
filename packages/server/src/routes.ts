/**
 * The one place mapping services to implementations.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import {
  AccountRecoveryService,
  AdminService,
  ApiKeyService,
  AuthService,
  ClientCertService,
  DeviceLoginService,
  IdentityService,
  MfaService,
  RevocationService,
  UserAccountService,
} from "@tessera/sdk/proto";

/** Complete implementations of the services: a missing RPC is a compile error. */
export interface ServiceImpls {
  auth: ServiceImpl<typeof AuthService>;
  apiKey: ServiceImpl<typeof ApiKeyService>;
  userAccount: ServiceImpl<typeof UserAccountService>;
  revocation: ServiceImpl<typeof RevocationService>;
  identity: ServiceImpl<typeof IdentityService>;
  accountRecovery: ServiceImpl<typeof AccountRecoveryService>;
  deviceLogin: ServiceImpl<typeof DeviceLoginService>;
  mfa: ServiceImpl<typeof MfaService>;
  admin: ServiceImpl<typeof AdminService>;
  clientCert: ServiceImpl<typeof ClientCertService>;
}

/** Registers every service on a router. */
export function createRoutes(impls: ServiceImpls): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AuthService, impls.auth);
    router.service(ApiKeyService, impls.apiKey);
    router.service(UserAccountService, impls.userAccount);
    router.service(RevocationService, impls.revocation);
    router.service(IdentityService, impls.identity);
    router.service(AccountRecoveryService, impls.accountRecovery);
    router.service(DeviceLoginService, impls.deviceLogin);
    router.service(MfaService, impls.mfa);
    router.service(AdminService, impls.admin);
    router.service(ClientCertService, impls.clientCert);
  };
}
