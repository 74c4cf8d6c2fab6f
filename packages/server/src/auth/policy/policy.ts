/**
 * The authorization policy: for every RPC of the three services, who may call it.
 * The interceptor enforces the principal-level part (public, API keys allowed or not,
 * instance admin); `AccountAccess` enforces the account-role part inside handlers,
 * which only ask, never decide.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RoleName } from "../../store/schema.js";
import type { Principal } from "../request/principal.js";

/** What an RPC requires of its caller. */
export type Rule =
  /** No credentials needed. */
  | { access: "public" }
  /** Any authenticated principal; `apiKeys: false` refuses API-key callers. */
  | { access: "authenticated"; apiKeys: boolean }
  /** A member of the request's account with at least `role`. */
  | { access: "account"; role: RoleName; apiKeys: boolean }
  /** A human user; only for the caller's own sessions and password. */
  | { access: "human" }
  /** An instance admin (the admin-mode user or a user with the instance-admin flag). */
  | { access: "instance_admin" }
  /**
   * An instance admin, or an API key created by a user who is an instance admin now
   * (enabled, with the flag): services that verify Tessera credentials themselves
   * (RevocationService). Give such a key only the scope `revocations:watch`.
   */
  | { access: "instance_admin_or_admin_key" };

const pub: Rule = { access: "public" };
const anyone: Rule = { access: "authenticated", apiKeys: true };
const human: Rule = { access: "human" };
const viewer = (apiKeys: boolean): Rule => ({ access: "account", role: "viewer", apiKeys });
const member = (apiKeys: boolean): Rule => ({ access: "account", role: "member", apiKeys });
const admin: Rule = { access: "account", role: "admin", apiKeys: false };

/** Every procedure of the five services, keyed by `Service/Method` (package-less). */
export const POLICY: Readonly<Record<string, Rule>> = Object.freeze({
  "AuthService/GetAuthConfig": pub,
  "AuthService/SignUp": pub,
  "AuthService/Login": pub,
  "AuthService/RefreshToken": pub,
  "AuthService/Logout": pub,
  "AuthService/GetAuthorizeUrl": pub,
  "AuthService/ExchangeCode": pub,
  "AuthService/CheckToken": anyone,
  "AuthService/ChangePassword": human,
  "AuthService/ListSessions": human,
  "AuthService/RevokeSession": human,
  "AuthService/RevokeAllSessions": human,
  "AuthService/SetUserDisabled": { access: "instance_admin" },
  "AuthService/RevokeUserSessions": { access: "instance_admin" },

  "IdentityService/ListIdentities": human,
  "IdentityService/UnlinkIdentity": human,
  // The link's token (or the email, for the requests that mail) is the input: public.
  "AccountRecoveryService/VerifyEmail": pub,
  "AccountRecoveryService/ResendVerification": pub,
  "AccountRecoveryService/RequestPasswordReset": pub,
  "AccountRecoveryService/ResetPassword": pub,
  // RFC 8628: the program starts and polls without credentials (the device code is
  // one); a signed-in person, however they signed in, looks up and decides.
  "DeviceLoginService/StartDeviceLogin": pub,
  "DeviceLoginService/PollDeviceLogin": pub,
  "DeviceLoginService/GetDeviceLogin": human,
  "DeviceLoginService/ApproveDeviceLogin": human,
  "DeviceLoginService/DenyDeviceLogin": human,

  // The second factor: a signed-in person manages their own; the challenge is VerifyMfa's credential.
  "MfaService/GetMfaStatus": human,
  "MfaService/StartTotpEnrollment": human,
  "MfaService/ConfirmTotpEnrollment": human,
  "MfaService/DisableTotp": human,
  "MfaService/RegenerateRecoveryCodes": human,
  "MfaService/VerifyMfa": pub,
  // For a user who lost the app and the codes: an instance admin, after proving who asks.
  "MfaService/ResetUserMfa": { access: "instance_admin" },
  // Oversight of the whole instance (issue 19): instance admins only, never API keys.
  "AdminService/ListUsers": { access: "instance_admin" },
  "AdminService/GetUserDetails": { access: "instance_admin" },
  "AdminService/ListApiKeys": { access: "instance_admin" },
  "AdminService/RevokeApiKey": { access: "instance_admin" },

  "RevocationService/WatchRevocations": { access: "instance_admin_or_admin_key" },
  "RevocationService/AckRevocations": { access: "instance_admin_or_admin_key" },
  "RevocationService/GetRevocationStatus": { access: "instance_admin_or_admin_key" },

  // A leaked API key cannot mint more keys: API-key callers are refused here.
  "ApiKeyService/CreateAccountApiKey": member(false),
  "ApiKeyService/GetAccountApiKeys": viewer(false),
  "ApiKeyService/GetAccountApiKey": viewer(false),
  "ApiKeyService/RegenerateAccountApiKey": member(false),
  "ApiKeyService/RevokeOldAccountApiKeyValue": member(false),
  "ApiKeyService/DeleteAccountApiKey": member(false),

  "UserAccountService/GetUser": anyone,
  "UserAccountService/SetUser": { access: "authenticated", apiKeys: false },
  "UserAccountService/GetUserAccounts": anyone,
  "UserAccountService/SetPersonalAccount": { access: "authenticated", apiKeys: false },
  "UserAccountService/CreateTeamAccount": { access: "authenticated", apiKeys: false },
  "UserAccountService/IsUserInAccount": anyone,
  "UserAccountService/GetTeamAccountMembers": viewer(true),
  "UserAccountService/RemoveTeamAccountMember": admin,
  "UserAccountService/InviteUserToTeamAccount": admin,
  "UserAccountService/GetTeamAccountInvites": admin,
  "UserAccountService/RemoveTeamAccountInvite": admin,
  "UserAccountService/AcceptTeamAccountInvite": { access: "authenticated", apiKeys: false },
  "UserAccountService/SetUserRole": admin,
  "UserAccountService/GetAccountAuditEvents": admin,

  // Mapping certificates to machine users is an account admin's decision; never a key's.
  "ClientCertService/CreateAccountClientCert": admin,
  "ClientCertService/ListAccountClientCerts": admin,
  "ClientCertService/DeleteAccountClientCert": admin,
});

/**
 * Procedures an API key may call whatever its scopes: CheckToken only tells the caller
 * about its own credential, and services embedding Tessera (`@tessera/connect`) learn a
 * key's scopes by calling it with the key.
 */
export const SCOPE_EXEMPT: ReadonlySet<string> = new Set(["AuthService/CheckToken"]);

/**
 * Procedures an API key bound to a client certificate may call without it: CheckToken,
 * which services embedding Tessera call with their callers' keys from their own
 * connections (RFC 8705 introspection); it tells them the binding to enforce.
 */
export const CERT_BINDING_EXEMPT: ReadonlySet<string> = new Set(["AuthService/CheckToken"]);

/** The policy key of a procedure path like `/tessera.v1.AuthService/Login`. */
export function policyKey(typeName: string, methodName: string): string {
  const service = typeName.slice(typeName.lastIndexOf(".") + 1);
  return `${service}/${methodName}`;
}

/** The rule of a procedure; procedures missing from the table are refused (fail closed). */
export function ruleFor(typeName: string, methodName: string): Rule | undefined {
  return POLICY[policyKey(typeName, methodName)];
}

const RANK: Record<RoleName, number> = { viewer: 1, member: 2, admin: 3 };

/** True when `role` is at least `required`. */
export function roleAtLeast(role: RoleName, required: RoleName): boolean {
  return RANK[role] >= RANK[required];
}

/** The role an API key has in its own account: read-only. */
export const API_KEY_ROLE: RoleName = "viewer";

/** What the MFA settings demand (AUTH_REQUIRE_MFA_FOR_ADMINS, AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION). */
export interface SecondFactorPolicy {
  forAdmins: boolean;
  forApiKeyCreation: boolean;
}

/**
 * Procedures that mint machine credentials (AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION): API
 * keys, and client-certificate mappings, which make a certificate an account's machine user.
 */
export const API_KEY_CREATION: ReadonlySet<string> = new Set([
  "ApiKeyService/CreateAccountApiKey",
  "ApiKeyService/RegenerateAccountApiKey",
  "ClientCertService/CreateAccountClientCert",
]);

/** The answer to a caller whose session did not pass a second factor where one is required. */
export const SECOND_FACTOR_REQUIRED =
  "this procedure needs a session that passed a second factor: turn on two-step sign-in (MfaService.StartTotpEnrollment, or in the console), then sign in again with a code";

/**
 * True when a procedure needs a session at assurance level 2: with `forAdmins`, every
 * procedure whose rule needs an instance admin or the account role admin; with
 * `forApiKeyCreation`, the procedures that mint API keys. Only people are asked (API keys
 * are machines; AUTH_MODE=none has nobody to ask).
 */
export function secondFactorRequired(rule: Rule, key: string, principal: Principal, policy: SecondFactorPolicy): boolean {
  if (principal.kind !== "user" && principal.kind !== "oidc_user") return false;
  if (principal.kind === "user" && principal.assuranceLevel >= 2) return false;
  const adminRule = rule.access === "instance_admin" || rule.access === "instance_admin_or_admin_key" || (rule.access === "account" && rule.role === "admin");
  return (policy.forAdmins && adminRule) || (policy.forApiKeyCreation && API_KEY_CREATION.has(key));
}

/**
 * Principal-level check, run by the interceptor once the caller is authenticated.
 * `isInstanceAdmin` is only consulted for instance-admin rules, `keyMadeByInstanceAdmin`
 * only for API keys under `instance_admin_or_admin_key` (refused when absent).
 */
export function checkPrincipal(
  rule: Rule,
  principal: Principal,
  isInstanceAdmin: () => Promise<boolean>,
  keyMadeByInstanceAdmin?: (apiKeyId: string) => Promise<boolean>,
): Promise<void> | void {
  switch (rule.access) {
    case "public":
      return;
    case "authenticated":
    case "account":
      if (principal.kind === "api_key" && !rule.apiKeys) {
        throw new ConnectError("API keys cannot call this procedure", Code.PermissionDenied);
      }
      return;
    case "human":
      if (principal.kind === "api_key") throw new ConnectError("API keys cannot call this procedure", Code.PermissionDenied);
      return;
    case "instance_admin":
      if (principal.kind === "api_key") throw new ConnectError("API keys cannot call this procedure", Code.PermissionDenied);
      return isInstanceAdmin().then((ok) => {
        if (!ok) throw new ConnectError("instance admin role required", Code.PermissionDenied);
      });
    case "instance_admin_or_admin_key": {
      const allowed = principal.kind === "api_key" ? (keyMadeByInstanceAdmin?.(principal.apiKeyId) ?? Promise.resolve(false)) : isInstanceAdmin();
      return allowed.then((ok) => {
        if (!ok) throw new ConnectError("instance admin, or an API key created by one, required", Code.PermissionDenied);
      });
    }
  }
}
