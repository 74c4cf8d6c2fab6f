/**
 * AuthService: every RPC, one file per topic. This is the complete implementation
 * (`ServiceImpl`, not `Partial`): a missing RPC, or one bound twice, fails to compile.
 * - config.ts: GetAuthConfig, CheckToken
 * - password.ts: SignUp, Login
 * - tokens.ts: RefreshToken, Logout
 * - provider-login.ts: GetAuthorizeUrl, ExchangeCode
 * - sessions.ts: ListSessions, RevokeSession, RevokeAllSessions
 * - password-change.ts: ChangePassword
 * - admin.ts: SetUserDisabled, RevokeUserSessions (instance admins)
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AuthService } from "@tessera/sdk/proto";
import type { RecoveryMail } from "../../auth/email-links/recovery-mail.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import type { UserAuth } from "../../auth/user-auth.js";
import type { Deps } from "../../deps.js";
import { adminHandlers } from "./admin.js";
import { configHandlers } from "./config.js";
import { passwordChangeHandlers } from "./password-change.js";
import { passwordHandlers } from "./password.js";
import { providerLoginHandlers } from "./provider-login.js";
import { sessionHandlers } from "./sessions.js";
import { tokenHandlers } from "./tokens.js";

/** What AuthService needs besides the common dependencies. */
export interface AuthServiceOptions {
  userAuth: UserAuth;
  /** The revocation log: every revocation is published there once committed. */
  revocations: Pick<RevocationLog, "published">;
  /** The mails of sign-up (verification, "someone tried"). */
  mail: RecoveryMail;
  /** Forgets cached API keys in this instance only (after re-enabling a machine user). */
  forgetApiKeys(target: string): void;
}

/** Builds the AuthService implementation. */
export function createAuthService(deps: Deps, opts: AuthServiceOptions): ServiceImpl<typeof AuthService> {
  const { userAuth } = opts;
  const config = configHandlers(deps.config);
  const password = passwordHandlers(deps, userAuth, opts.mail);
  const tokens = tokenHandlers(deps, userAuth, opts.revocations);
  const provider = providerLoginHandlers(userAuth.oidc, userAuth.verifiers ?? []);
  const sessions = sessionHandlers(deps, opts.revocations);
  const change = passwordChangeHandlers(deps, opts.revocations);
  const admin = adminHandlers(deps, { revocations: opts.revocations, forgetApiKeys: opts.forgetApiKeys, forgetUser: (id) => userAuth.forgetUser(id) });
  return {
    getAuthConfig: config.getAuthConfig,
    signUp: password.signUp,
    login: password.login,
    refreshToken: tokens.refreshToken,
    logout: tokens.logout,
    getAuthorizeUrl: provider.getAuthorizeUrl,
    exchangeCode: provider.exchangeCode,
    checkToken: config.checkToken,
    changePassword: change.changePassword,
    listSessions: sessions.listSessions,
    revokeSession: sessions.revokeSession,
    revokeAllSessions: sessions.revokeAllSessions,
    setUserDisabled: admin.setUserDisabled,
    revokeUserSessions: admin.revokeUserSessions,
  };
}
