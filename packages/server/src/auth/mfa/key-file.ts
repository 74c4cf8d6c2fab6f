/**
 * The embedded database's MFA key: with no MFA_ENCRYPTION_KEY, `npm start` and
 * `tessera serve` on the embedded database keep a generated key in its data directory
 * (`mfa-encryption.key`, mode 0600, beside the database files), as other local secrets
 * are kept there. Back the directory up as a whole: without this file no TOTP secret in
 * it opens (recovery codes neither).
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { parseMfaKey } from "../../config/mfa-config.js";

/** The key file's name inside the data directory. */
export const MFA_KEY_FILE_NAME = "mfa-encryption.key";

/** The key kept in `dataDir`, made (32 random bytes, base64, 0600) when there is none. */
export function loadOrCreateKeyFile(dataDir: string): Buffer {
  const file = path.join(dataDir, MFA_KEY_FILE_NAME);
  try {
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString("base64")}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return parseMfaKey(readFileSync(file, "utf8"), file);
}
