/**
 * Tessera's own services, as generated descriptors: the scopes Tessera knows (their
 * `(tessera.v1.scope)` options and procedure names) are read from these.
 */
import type { DescService } from "@bufbuild/protobuf";
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

/** Every service Tessera serves (routes.ts binds each); a new one belongs here too. */
export const TESSERA_SERVICES: readonly DescService[] = Object.freeze([
  AuthService,
  ApiKeyService,
  UserAccountService,
  RevocationService,
  DeviceLoginService,
  IdentityService,
  AccountRecoveryService,
  MfaService,
  AdminService,
  ClientCertService,
]);
