/**
 * ApiKeyService input rules: a key's name and its expiry. Every violation is an
 * InvalidArgument naming the field and the rule.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { hasControlCharacters } from "../common/text.js";
import type { ApiKeyBudgetJson, ApiKeyRateLimitJson } from "../../store/schema.js";
import { isThumbprint } from "../../auth/client-certs/thumbprint.js";

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

/** Most rate limits on one key. */
const MAX_RATE_LIMITS = 5;
const MAX_WINDOW_SECONDS = 31 * 86_400;
const MAX_RATE_LIMIT = 1_000_000_000;
const MAX_BUDGET = 1_000_000_000_000n;
const MIN_REFILL_SECONDS = 60;
const MAX_REFILL_SECONDS = 366 * 86_400;

/** Validates a key's rate limits and budget (ApiKeyRateLimit, ApiKeyBudget) into their stored form. */
export function validLimits(
  rateLimits: ReadonlyArray<{ limit: number; windowSeconds: number }>,
  budget: { uses: bigint; refillAmount: bigint; refillIntervalSeconds: number } | undefined,
): { rate_limits: ApiKeyRateLimitJson[]; budget: ApiKeyBudgetJson | undefined } {
  if (rateLimits.length > MAX_RATE_LIMITS) throw invalidArgument(`a key has at most ${MAX_RATE_LIMITS} rate limits`);
  const rate_limits = rateLimits.map((l, i) => {
    if (l.limit < 1 || l.limit > MAX_RATE_LIMIT) throw invalidArgument(`rate_limits[${i}].limit must be 1 to ${MAX_RATE_LIMIT}`);
    if (l.windowSeconds < 1 || l.windowSeconds > MAX_WINDOW_SECONDS)
      throw invalidArgument(`rate_limits[${i}].window_seconds must be 1 to ${MAX_WINDOW_SECONDS} (31 days)`);
    return { limit: l.limit, window_seconds: l.windowSeconds };
  });
  if (!budget) return { rate_limits, budget: undefined };
  if (budget.uses < 1n || budget.uses > MAX_BUDGET) throw invalidArgument(`budget.uses must be 1 to ${MAX_BUDGET}`);
  if (budget.refillAmount < 0n || budget.refillAmount > MAX_BUDGET) throw invalidArgument(`budget.refill_amount must be 0 to ${MAX_BUDGET}`);
  const refills = budget.refillAmount > 0n;
  if (refills && (budget.refillIntervalSeconds < MIN_REFILL_SECONDS || budget.refillIntervalSeconds > MAX_REFILL_SECONDS)) {
    throw invalidArgument(`budget.refill_interval_seconds must be ${MIN_REFILL_SECONDS} to ${MAX_REFILL_SECONDS} (366 days) with a refill_amount`);
  }
  if (!refills && budget.refillIntervalSeconds !== 0) throw invalidArgument("budget.refill_interval_seconds needs a refill_amount");
  return {
    rate_limits,
    budget: { uses: Number(budget.uses), refill_amount: Number(budget.refillAmount), refill_interval_seconds: refills ? budget.refillIntervalSeconds : 0 },
  };
}

/** Longest overlap of a regenerate: 24 hours. */
const MAX_OVERLAP_SECONDS = 86_400;

/** Validates a regenerate's overlap: 0 (none) to 86400 seconds. */
export function validOverlap(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_OVERLAP_SECONDS) {
    throw invalidArgument(`overlap_seconds must be 0 to ${MAX_OVERLAP_SECONDS} (24 hours)`);
  }
  return seconds;
}

/**
 * The client certificate a new key is bound to (RFC 8705 thumbprint), or undefined:
 * `explicit` (a thumbprint given), or the certificate `presented` on this request when
 * `bindToPresented`; both must then name the same certificate.
 */
export function validBinding(explicit: string, bindToPresented: boolean, presented: string | undefined): string | undefined {
  if (explicit !== "" && !isThumbprint(explicit)) {
    throw invalidArgument("client_cert_thumbprint must be the certificate's SHA-256 thumbprint: 43 characters of base64url (RFC 8705 x5t#S256)");
  }
  if (!bindToPresented) return explicit === "" ? undefined : explicit;
  if (presented === undefined) throw invalidArgument("bind_to_client_cert needs a verified client certificate on this request (mutual TLS)");
  if (explicit !== "" && explicit !== presented) throw invalidArgument("client_cert_thumbprint names another certificate than the one presented");
  return presented;
}
