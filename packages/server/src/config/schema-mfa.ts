/**
 * Declarations of the second-factor variables (issue 18): the key TOTP secrets are
 * encrypted with, the issuer apps show, and the policies that demand a second factor.
 */
import { bool, text, verbatim } from "./parse.js";
import { variable } from "./variable.js";

/** The second-factor variables, by name. */
export const MFA_VARIABLES = {
  MFA_ENCRYPTION_KEY: variable({
    name: "MFA_ENCRYPTION_KEY",
    section: "mfa",
    parser: verbatim(),
    default: undefined,
    defaultText: "unset: the embedded database keeps a generated key in its data directory; with PostgreSQL the MFA procedures answer FailedPrecondition",
    secret: true,
    description:
      "32 random bytes (64 hex digits or base64, e.g. `openssl rand -base64 32`) that encrypt TOTP secrets (AES-256-GCM) and key the recovery-code hashes; keep it outside the database ([mfa.md](mfa.md#settings))",
  }),
  MFA_ENCRYPTION_KEY_FILE: variable({
    name: "MFA_ENCRYPTION_KEY_FILE",
    section: "mfa",
    parser: text(),
    default: undefined,
    defaultText: "unset",
    description: "a file holding `MFA_ENCRYPTION_KEY` (instead of the variable; not both)",
  }),
  MFA_ENCRYPTION_KEY_PREVIOUS: variable({
    name: "MFA_ENCRYPTION_KEY_PREVIOUS",
    section: "mfa",
    parser: verbatim(),
    default: undefined,
    defaultText: "unset",
    secret: true,
    description:
      "the key before a rotation, same format: secrets and recovery codes stored under it still work (new secrets use `MFA_ENCRYPTION_KEY`); remove it once every user has re-enrolled",
  }),
  MFA_ISSUER: variable({
    name: "MFA_ISSUER",
    section: "mfa",
    parser: text(),
    default: "Tessera",
    description: "the name authenticator apps show beside the account (the `otpauth://` URI's issuer)",
  }),
  AUTH_MFA_FOR_PROVIDER_LOGINS: variable({
    name: "AUTH_MFA_FOR_PROVIDER_LOGINS",
    section: "mfa",
    parser: bool(),
    default: true,
    description:
      "a user with TOTP signing in through an identity provider (`ExchangeCode`) is asked for a code too; `false` trusts the provider's own second factor (such sessions have `amr` `fed` and level 1)",
  }),
  AUTH_REQUIRE_MFA_FOR_ADMINS: variable({
    name: "AUTH_REQUIRE_MFA_FOR_ADMINS",
    section: "mfa",
    parser: bool(),
    default: false,
    description:
      "procedures that need an instance admin or an account admin answer PermissionDenied unless the caller's session passed a second factor (assurance level 2); needs an encryption key (startup stops without one)",
  }),
  AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION: variable({
    name: "AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION",
    section: "mfa",
    parser: bool(),
    default: false,
    description:
      "`CreateAccountApiKey`, `RegenerateAccountApiKey` and `CreateAccountClientCert` (the procedures that mint machine credentials) need a session that passed a second factor, whatever the caller's role",
  }),
} as const;
