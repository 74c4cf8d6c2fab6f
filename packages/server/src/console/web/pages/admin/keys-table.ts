/** The admin pages' table of API keys across accounts, each with "Revoke" (confirmed). */
import type { AdminApiKey } from "@tessera/sdk/proto";
import { admin } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h } from "../../dom.js";
import { failed } from "../../errors.js";
import { expiresSoon, fmt } from "../../format.js";
import { showBanner } from "../../layout.js";

/** Revokes a key after confirmation, then reloads. */
async function revoke(k: AdminApiKey, reload: () => void): Promise<void> {
  const key = k.apiKey;
  if (!key) return;
  const ok = await confirmDialog({
    title: `Revoke API key "${key.name}"?`,
    body: `It belongs to ${k.accountName}. Anything using it stops working immediately; the account's admins see the revocation in its audit trail.`,
    confirm: "Revoke key",
    danger: true,
  });
  if (!ok) return;
  try {
    await admin.revokeApiKey({ id: key.id });
    showBanner(`Revoked "${key.name}".`, "info");
    reload();
  } catch (e) {
    await failed(e);
  }
}

/** The keys as a table, or a hint when there are none. */
export function adminKeysTable(keys: AdminApiKey[], reload: () => void): HTMLElement {
  if (keys.length === 0) return h("div", { class: "empty" }, "No API keys.");
  return h(
    "table",
    { "data-testid": "admin-keys-table" },
    h("thead", {}, h("tr", {}, ...["Name", "Key", "Account", "Created by", "Created", "Expires", "Last used", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      ...keys.map((k) => {
        const key = k.apiKey;
        return h(
          "tr",
          { "data-key-id": key?.id ?? "", "data-key-name": key?.name ?? "" },
          h("td", {}, key?.name ?? ""),
          h("td", {}, h("code", {}, `${key?.start ?? ""}…`)),
          h("td", {}, k.accountName),
          h("td", {}, key?.createdByEmail || "—"),
          h("td", {}, fmt(key?.createdAt)),
          h("td", {}, fmt(key?.expiresAt), expiresSoon(key?.expiresAt) && h("span", { class: "badge warn", "data-testid": "expires-soon" }, " expires soon")),
          h("td", {}, key?.lastUsedAt ? fmt(key.lastUsedAt) : "never"),
          h("td", { class: "actions-cell" }, h("button", { type: "button", class: "danger", onclick: () => void revoke(k, reload) }, "Revoke")),
        );
      }),
    ),
  );
}

/** "Previous" and "Next" over keyset pages: `tokens` holds the token of each page shown so far. */
export function pager(tokens: string[], next: string, go: (tokens: string[]) => void): HTMLElement {
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", disabled: tokens.length <= 1, onclick: () => go(tokens.slice(0, -1)) }, "Previous"),
    h("button", { type: "button", "data-testid": "next-page", disabled: next === "", onclick: () => go([...tokens, next]) }, "Next"),
  );
}
