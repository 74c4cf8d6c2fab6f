/**
 * The second-factor settings (issue 18). The encryption key is MFA_ENCRYPTION_KEY or the
 * file MFA_ENCRYPTION_KEY_FILE names (not both), 32 bytes in hex or base64. Without one,
 * the embedded database keeps a generated key in its data directory (auth/mfa/key-file.ts);
 * elsewhere MFA is off (its procedures answer FailedPrecondition), and
 * AUTH_REQUIRE_MFA_FOR_ADMINS stops startup, since no admin could pass it.
 */
import { ConfigError } from "./config-error.js";
import type { DatabaseConfig } from "./database-config.js";
import { readSmallFile } from "./providers-json.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** The second factor's settings. */
export interface MfaConfig {
  /** The key that seals (and the previous one, that only opens); undefined: none configured. */
  key: { current: Buffer; previous: Buffer[] } | undefined;
  /** No key configured, but the embedded database's data directory keeps a generated one. */
  keyInDataDir: string | undefined;
  issuer: string;
  forProviderLogins: boolean;
  requireForAdmins: boolean;
  requireForApiKeyCreation: boolean;
}

/** 32 bytes from 64 hex digits or base64 (url-safe or not); ConfigError naming `variable` otherwise. */
export function parseMfaKey(raw: string, variable: string): Buffer {
  const t = raw.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, "base64") : undefined;
  if (bytes?.length !== 32) throw new ConfigError(variable, "must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)");
  return bytes;
}

/** Reads the second-factor settings. */
export function mfaConfig(env: Env, database: DatabaseConfig, authEnabled: boolean): MfaConfig {
  const inline = read(env, V.MFA_ENCRYPTION_KEY);
  const file = read(env, V.MFA_ENCRYPTION_KEY_FILE);
  const previousRaw = read(env, V.MFA_ENCRYPTION_KEY_PREVIOUS);
  if (inline !== undefined && inline.trim() !== "" && file !== undefined) {
    throw new ConfigError("MFA_ENCRYPTION_KEY", "set MFA_ENCRYPTION_KEY or MFA_ENCRYPTION_KEY_FILE, not both");
  }
  let current: Buffer | undefined;
  if (inline !== undefined && inline.trim() !== "") current = parseMfaKey(inline, "MFA_ENCRYPTION_KEY");
  else if (file !== undefined) current = parseMfaKey(readSmallFile(file, "MFA_ENCRYPTION_KEY_FILE", "key file"), "MFA_ENCRYPTION_KEY_FILE");
  const previous = previousRaw !== undefined && previousRaw.trim() !== "" ? [parseMfaKey(previousRaw, "MFA_ENCRYPTION_KEY_PREVIOUS")] : [];
  if (previous.length > 0 && current === undefined) throw new ConfigError("MFA_ENCRYPTION_KEY_PREVIOUS", "needs MFA_ENCRYPTION_KEY (the key that replaces it)");
  const keyInDataDir = current === undefined && database.kind === "pglite" && database.dataDir !== "memory://" ? database.dataDir : undefined;
  const requireForAdmins = read(env, V.AUTH_REQUIRE_MFA_FOR_ADMINS);
  if (requireForAdmins && authEnabled && current === undefined && keyInDataDir === undefined) {
    throw new ConfigError("MFA_ENCRYPTION_KEY", "required with AUTH_REQUIRE_MFA_FOR_ADMINS=true: without it no admin could enrol a second factor");
  }
  return {
    key: current === undefined ? undefined : { current, previous },
    keyInDataDir,
    issuer: read(env, V.MFA_ISSUER),
    forProviderLogins: read(env, V.AUTH_MFA_FOR_PROVIDER_LOGINS),
    requireForAdmins: requireForAdmins && authEnabled,
    requireForApiKeyCreation: read(env, V.AUTH_REQUIRE_MFA_FOR_API_KEY_CREATION) && authEnabled,
  };
}
