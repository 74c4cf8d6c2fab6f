/**
 * Request validation for UserAccountService: every string field is checked here and
 * a bad one answers InvalidArgument naming the field.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { AccountRole } from "@tessera/sdk/proto";
import { isUuid } from "../../lib/ids.js";
import { isValidEmail, MAX_EMAIL_LENGTH, normalizeEmail as normalizeSharedEmail } from "../../auth/passwords/email.js";
import type { RoleName } from "../../store/schema.js";
import { hasControlCharacters } from "../common/text.js";

/** Throws InvalidArgument. */
function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** A required UUID field. */
export function requireUuid(value: string, field: string): string {
  if (value === "") throw invalid(`${field} is required`);
  if (!isUuid(value)) throw invalid(`${field} must be a UUID`);
  return value.toLowerCase();
}

/** A team account name: trimmed, 1..100 characters, no control characters. */
export function teamName(value: string): string {
  const name = value.normalize("NFC").trim();
  if (name === "") throw invalid("name is required");
  if ([...name].length > 100) throw invalid("name must be at most 100 characters");
  if (hasControlCharacters(name)) throw invalid("name must not contain control characters");
  return name;
}

/** An email for comparison: trimmed, NFKC, lower-cased (the rule sign-up and login use). */
export function normalizeEmail(value: string): string {
  return normalizeSharedEmail(value);
}

/** A required email: trimmed for display, normalized for comparison, shape-checked. */
export function requireEmail(value: string, field = "email"): { display: string; normalized: string } {
  const display = value.trim();
  if (display === "") throw invalid(`${field} is required`);
  if (display.length > MAX_EMAIL_LENGTH) throw invalid(`${field} must be at most ${MAX_EMAIL_LENGTH} characters`);
  if (hasControlCharacters(display)) throw invalid(`${field} must not contain control characters`);
  const normalized = normalizeSharedEmail(display);
  if (!isValidEmail(normalized)) throw invalid(`${field} is not a valid email address`);
  return { display, normalized };
}

const ROLE_FROM_PROTO: Partial<Record<number, RoleName>> = {
  [AccountRole.ADMIN]: "admin",
  [AccountRole.MEMBER]: "member",
  [AccountRole.VIEWER]: "viewer",
};

/** The role named by a request; `fallback` for UNSPECIFIED, InvalidArgument without one. */
export function roleFromProto(role: AccountRole, fallback?: RoleName): RoleName {
  if (role === AccountRole.UNSPECIFIED && fallback) return fallback;
  const r = ROLE_FROM_PROTO[role];
  if (!r) throw invalid("role must be ACCOUNT_ROLE_ADMIN, ACCOUNT_ROLE_MEMBER or ACCOUNT_ROLE_VIEWER");
  return r;
}

/** An invite token: what InviteUserToTeamAccount returned (`tsi_` + base64url). */
export function requireInviteToken(value: string): string {
  if (value === "") throw invalid("token is required");
  if (value.length > 200 || !/^[A-Za-z0-9_-]+$/.test(value)) throw invalid("token is malformed");
  return value;
}

/** page_size: 1..100, 0 means 50. */
export function pageSize(value: number): number {
  if (value === 0) return 50;
  if (!Number.isInteger(value) || value < 1 || value > 100) throw invalid("page_size must be between 1 and 100");
  return value;
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The opaque page token: base64url of JSON `{t, id}` (exact time text and event id). */
export function encodePageToken(cursor: { time: string; id: string }): string {
  return Buffer.from(JSON.stringify({ t: cursor.time, id: cursor.id })).toString("base64url");
}

/** Decodes and validates a page token; undefined for an empty one. */
export function decodePageToken(token: string): { time: string; id: string } | undefined {
  if (token === "") return undefined;
  const bad = () => invalid("page_token is invalid");
  if (token.length > 200 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!parsed || typeof parsed !== "object") throw bad();
  const { t, id } = parsed as { t?: unknown; id?: unknown };
  if (typeof t !== "string" || !CURSOR_TIME.test(t) || Number.isNaN(Date.parse(t))) throw bad();
  if (typeof id !== "string" || !isUuid(id)) throw bad();
  return { time: t, id: id.toLowerCase() };
}
