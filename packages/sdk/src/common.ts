/**
 * What both SDK entry points (browser and Node) export besides `createTesseraClient`
 * and `createTesseraSession`.
 */
export { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
export { AccountRecoveryService } from "./gen/tessera/v1/account_recovery_pb.js";
export { ApiKeyService } from "./gen/tessera/v1/api_key_pb.js";
export { AuthMode, AuthService, PrincipalKind } from "./gen/tessera/v1/auth_pb.js";
export { DeviceLoginService, DeviceLoginStatus } from "./gen/tessera/v1/device_pb.js";
export { MfaService } from "./gen/tessera/v1/mfa_pb.js";
export { UserAccountService } from "./gen/tessera/v1/user_account_pb.js";
export type { TesseraClient } from "./client.js";
export { EmailVerificationRequiredError, type ClientTls, type Protocol, type TesseraClientOptions, type TesseraSession } from "./session.js";
export { createCredentials, type Credentials, type CredentialsOptions } from "./credentials.js";
export { MfaRequiredError, mfaChallengeFromMessage, tokensFromSignIn, type MfaChallenge, type MfaProof } from "./mfa.js";
export { createLocalStorageTokenStore, type KeyValueStorage } from "./local-storage-token-store.js";
export { accessTokenExpiry, createMemoryTokenStore, tokensFromMessage, type Tokens, type TokenStore } from "./tokens.js";
export { withInterceptors } from "./with-interceptors.js";
export {
  compileScopes,
  DECLARED_SCOPE_PATTERN,
  declaredScope,
  insufficientScopeChallenge,
  parseScope,
  procedureScope,
  scopeGrants,
  scopesOf,
  type ParsedScope,
  type ScopeSet,
} from "./scopes.js";
