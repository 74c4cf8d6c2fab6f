/**
 * The static list of migrations, in order. Kysely's file provider fails under
 * vitest on Node 20, so every migration is imported here explicitly.
 */
import type { Migration, MigrationProvider } from "kysely";
import * as m0001 from "./0001-initial.js";
import * as m0002RefreshSingleChain from "./0002-refresh-single-chain.js";
import * as m0003ConfiguredAdmin from "./0003-configured-admin.js";
import * as m0004IdentityEmailVerified from "./0004-identity-email-verified.js";
import * as m0005RevocationEvents from "./0005-revocation-events.js";
import * as m0006IdentityProviders from "./0006-identity-providers.js";
import * as m0008EmailAndMfa from "./0008-email-and-mfa.js";
import * as m0007DeviceLogins from "./0007-device-logins.js";
import * as m0009ApiKeyScopes from "./0009-api-key-scopes.js";
import * as m0010ClientCerts from "./0010-client-certs.js";
import * as m0011ApiKeyRotation from "./0011-api-key-rotation.js";
import * as m0012AdminListingIndexes from "./0012-admin-listing-indexes.js";
import * as m0013Mfa from "./0013-mfa.js";

/** All migrations by name; names sort in the order they apply. */
const migrations: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-refresh-single-chain": m0002RefreshSingleChain,
  "0003-configured-admin": m0003ConfiguredAdmin,
  "0004-identity-email-verified": m0004IdentityEmailVerified,
  "0005-revocation-events": m0005RevocationEvents,
  "0006-identity-providers": m0006IdentityProviders,
  "0008-email-and-mfa": m0008EmailAndMfa,
  "0007-device-logins": m0007DeviceLogins,
  "0009-api-key-scopes": m0009ApiKeyScopes,
  "0010-client-certs": m0010ClientCerts,
  "0011-api-key-rotation": m0011ApiKeyRotation,
  "0012-admin-listing-indexes": m0012AdminListingIndexes,
  "0013-mfa": m0013Mfa,
};

/** A MigrationProvider over the static list. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
