/**
 * AdminService input rules: page sizes, opaque page tokens (keyset cursors), the search
 * text and day counts. Every violation is an InvalidArgument naming the field.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { UserDisabledFilter } from "@tessera/sdk/proto";
import { isUuid } from "../../lib/ids.js";
import type { Cursor } from "../../store/admin-users.js";
import type { UserFilter } from "../../store/admin-users.js";
import { hasControlCharacters } from "../common/text.js";

/** Rows a page holds when the request says 0. */
const DEFAULT_PAGE_SIZE = 50;
/** Most rows a page holds. */
const MAX_PAGE_SIZE = 200;
/** Longest search text, in characters. */
const MAX_QUERY_LENGTH = 200;
/** Longest page token we decode (a cursor is well under 150 characters). */
const MAX_TOKEN_LENGTH = 400;
/** Largest day count of the key filters (ten years: more than any key lives). */
const MAX_DAYS = 3650;

/** `created_at::text` as PostgreSQL writes it in the ISO DateStyle (fields captured for the range check). */
const PG_TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::(\d{2}))?(?::(\d{2}))?$/;

/**
 * Whether `t` is a timestamp PostgreSQL accepts: the shape alone lets through values it
 * refuses (month 13, February 30, offset +99), which would fail the query (Internal)
 * instead of answering InvalidArgument.
 */
function isPgTimestamp(t: string): boolean {
  const m = PG_TIMESTAMP_RE.exec(t);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offH, offM = 0, offS = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1) return false;
  const leap = year! % 4 === 0 && (year! % 100 !== 0 || year! % 400 === 0);
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month! - 1]!;
  if (day! > monthDays) return false;
  return hour! <= 23 && minute! <= 59 && second! <= 59 && offH! <= 15 && offM <= 59 && offS <= 59;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** The page size: 0 is the default (50), else 1 to 200. */
export function pageSize(n: number): number {
  if (n === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) throw invalid(`page_size must be 1 to ${MAX_PAGE_SIZE} (0: ${DEFAULT_PAGE_SIZE})`);
  return n;
}

/** What a page token is for: a token of one listing is refused by the other. */
type Listing = "users" | "api_keys";

/** The opaque token of the page after `cursor`. */
export function encodePageToken(listing: Listing, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ l: listing, t: cursor.ts, i: cursor.id }), "utf8").toString("base64url");
}

/** The cursor of a page token (empty: the first page). */
export function decodePageToken(listing: Listing, token: string): Cursor | undefined {
  if (token === "") return undefined;
  if (token.length > MAX_TOKEN_LENGTH) throw invalid("page_token is invalid");
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid("page_token is invalid");
  }
  const { l, t, i } = (doc ?? {}) as Record<string, unknown>;
  if (l !== listing || typeof t !== "string" || !isPgTimestamp(t) || !isUuid(i)) throw invalid("page_token is invalid");
  return { ts: t, id: i.toLowerCase() };
}

/** The search text: trimmed, at most 200 characters, no control characters. */
export function searchQuery(raw: string): string {
  const q = raw.trim();
  if ([...q].length > MAX_QUERY_LENGTH) throw invalid(`query must be at most ${MAX_QUERY_LENGTH} characters`);
  if (hasControlCharacters(q)) throw invalid("query must not contain control characters");
  return q;
}

/** The disabled filter as the store's word. */
export function disabledFilter(f: UserDisabledFilter): UserFilter["disabled"] {
  switch (f) {
    case UserDisabledFilter.UNSPECIFIED:
    case UserDisabledFilter.ANY:
      return "any";
    case UserDisabledFilter.ONLY:
      return "only";
    case UserDisabledFilter.NONE:
      return "none";
    default:
      throw invalid("disabled is not a known filter");
  }
}

/** A day count: 0 (no filter, undefined) or 1 to 3650. */
export function days(n: number, field: string): number | undefined {
  if (n === 0) return undefined;
  if (!Number.isInteger(n) || n < 1 || n > MAX_DAYS) throw invalid(`${field} must be 1 to ${MAX_DAYS} (0: no filter)`);
  return n;
}

/** An optional UUID field: empty is undefined. */
export function optionalUuid(v: string, field: string): string | undefined {
  if (v === "") return undefined;
  if (!isUuid(v)) throw invalid(`${field} must be a UUID`);
  return v.toLowerCase();
}

/** A required UUID field. */
export function requiredUuid(v: string, field: string): string {
  if (!isUuid(v)) throw invalid(`${field} must be a UUID`);
  return v.toLowerCase();
}
