/**
 * The contract, generated from `proto/tessera/v1/*.proto` by protoc-gen-es: the service
 * descriptors (`AuthService`, `ApiKeyService`, `UserAccountService`, `RevocationService`, `DeviceLoginService`,
 * `IdentityService`, `AccountRecoveryService`, `MfaService`, `AdminService`, `ClientCertService`), every message
 * schema (`XxxSchema`) and type, and the enums. One source for every Tessera package.
 */
export * from "./gen/tessera/v1/admin_pb.js";
export * from "./gen/tessera/v1/api_key_pb.js";
export * from "./gen/tessera/v1/auth_pb.js";
export * from "./gen/tessera/v1/identity_pb.js";
export * from "./gen/tessera/v1/user_account_pb.js";
export * from "./gen/tessera/v1/revocation_pb.js";
export * from "./gen/tessera/v1/account_recovery_pb.js";
export * from "./gen/tessera/v1/device_pb.js";
export * from "./gen/tessera/v1/mfa_pb.js";
export * from "./gen/tessera/v1/options_pb.js";
export * from "./gen/tessera/v1/client_cert_pb.js";
