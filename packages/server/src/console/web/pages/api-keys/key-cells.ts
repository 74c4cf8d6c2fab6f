/**
 * The cells of one key's row that say how it stands: its expiry (marked when within 14
 * days), its last use (time, IP, user agent) and, during a rotation overlap, its old value
 * with a "Revoke old value" button.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AccountApiKey } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h } from "../../dom.js";
import { failed } from "../../errors.js";
import { expiresSoon, fmt } from "../../format.js";
import { showBanner } from "../../layout.js";

/** The expiry, with a mark when it is within 14 days (format.ts's `expiresSoon`) or past. */
export function expiryCell(k: AccountApiKey): HTMLElement {
  const expired = k.expiresAt !== undefined && timestampDate(k.expiresAt).getTime() <= Date.now();
  const mark = expired
    ? h("span", { class: "badge danger", "data-testid": "expired" }, "expired")
    : expiresSoon(k.expiresAt)
      ? h("span", { class: "badge warn", "data-testid": "expires-soon", title: "Expires within 14 days: regenerate it before then" }, "expires soon")
      : null;
  return h("td", {}, fmt(k.expiresAt), mark ? " " : null, mark);
}

/** The last use: when, and from which address and user agent. */
export function lastUseCell(k: AccountApiKey): HTMLElement {
  if (!k.lastUsedAt) return h("td", { "data-testid": "last-use" }, "never");
  return h(
    "td",
    { "data-testid": "last-use" },
    fmt(k.lastUsedAt),
    k.lastUsedIp ? h("div", { class: "muted small mono" }, k.lastUsedIp) : null,
    k.lastUsedUserAgent ? h("div", { class: "muted small clip", title: k.lastUsedUserAgent }, k.lastUsedUserAgent) : null,
  );
}

/** The old value during an overlap (its prefix and end) with "Revoke old value"; a dash otherwise. */
export function oldValueCell(k: AccountApiKey, canWrite: boolean, reload: () => void): HTMLElement {
  if (!k.previousValueExpiresAt) return h("td", { "data-testid": "old-value" }, "—");
  return h(
    "td",
    { "data-testid": "old-value" },
    h("code", {}, `${k.previousStart}…`),
    h("div", { class: "muted small" }, `works until ${fmt(k.previousValueExpiresAt)}`),
    h("button", { type: "button", class: "danger small", disabled: !canWrite, onclick: () => void revokeOld(k, reload) }, "Revoke old value"),
  );
}

/** Ends a key's old value after confirmation, then `reload`. */
async function revokeOld(k: AccountApiKey, reload: () => void): Promise<void> {
  const ok = await confirmDialog({
    title: `Revoke the old value of "${k.name}"?`,
    body: `Anything still using ${k.previousStart}… stops working immediately. The current value keeps working.`,
    confirm: "Revoke old value",
    danger: true,
  });
  if (!ok) return;
  try {
    await tessera.apiKeys.revokeOldAccountApiKeyValue({ id: k.id });
    showBanner("");
    reload();
  } catch (e) {
    await failed(e);
  }
}
