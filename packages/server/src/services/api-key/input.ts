/**
 * ApiKeyService input rules: a key's name and its expiry. Every violation is an
 * InvalidArgument naming the field and the rule.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { hasControlCharacters } from "../common/text.js";

/** Longest lifetime of a key. */
const MAX_API_KEY_LIFETIME_DAYS = 365;
/** Longest name, in characters. */
const MAX_API_KEY_NAME_LENGTH = 100;

const MAX_LIFETIME_MS = MAX_API_KEY_LIFETIME_DAYS * 24 * 60 * 60 * 1000;

function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Validates a key name: 1 to 100 characters, no control characters, not blank. */
export function validName(raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0) throw invalidArgument("name is required (1 to 100 characters)");
  if (length > MAX_API_KEY_NAME_LENGTH) throw invalidArgument("name must be at most 100 characters");
  if (hasControlCharacters(name)) throw invalidArgument("name must not contain control characters");
  return name;
}

/** Validates an expiry: required, in the future, at most 365 days from now. */
export function validExpiry(ts: Timestamp | undefined, now: Date): Date {
  if (!ts) throw invalidArgument("expires_at is required (in the future, at most 365 days from now)");
  let expiresAt: Date;
  try {
    expiresAt = timestampDate(ts);
  } catch {
    throw invalidArgument("expires_at is not a valid timestamp");
  }
  const ms = expiresAt.getTime();
  if (!Number.isFinite(ms)) throw invalidArgument("expires_at is not a valid timestamp");
  if (ms <= now.getTime()) throw invalidArgument("expires_at must be in the future");
  if (ms - now.getTime() > MAX_LIFETIME_MS) throw invalidArgument("expires_at must be at most 365 days from now");
  return expiresAt;
}
