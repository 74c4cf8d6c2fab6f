/**
 * The static list of migrations, in order. Kysely's file provider fails under
 * vitest on Node 20, so every migration is imported here explicitly.
 */
import type { Migration, MigrationProvider } from "kysely";
import * as m0001 from "./0001-initial.js";
import * as m0002IdentityEmailVerified from "./0002-identity-email-verified.js";

/** All migrations by name; names sort in the order they apply. */
export const migrations: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-identity-email-verified": m0002IdentityEmailVerified,
};

/** A MigrationProvider over the static list. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
