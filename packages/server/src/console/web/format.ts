/** How the console writes errors, times and roles. */
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@tessera/sdk";
import { AccountRole } from "@tessera/sdk/proto";

/** The server's message for a failed call (without the code prefix). */
export function message(e: unknown): string {
  return ConnectError.from(e).rawMessage;
}

/** A timestamp as a local date and time, or a dash. */
export function fmt(t: Timestamp | undefined): string {
  if (!t) return "—";
  return timestampDate(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** An account role as a word. */
export function roleName(r: AccountRole): string {
  return r === AccountRole.ADMIN ? "admin" : r === AccountRole.MEMBER ? "member" : r === AccountRole.VIEWER ? "viewer" : "—";
}

/** Keys expiring within this many days are marked "expires soon". */
export const EXPIRING_SOON_DAYS = 14;

/** True when `t` is in the future and within EXPIRING_SOON_DAYS. */
export function expiresSoon(t: Timestamp | undefined): boolean {
  const at = t ? timestampDate(t).getTime() : 0;
  return at > Date.now() && at - Date.now() <= EXPIRING_SOON_DAYS * 86_400_000;
}
