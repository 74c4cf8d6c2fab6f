/**
 * The "API keys" page: the account's keys (never their values): expiry (marked within 14
 * days), last use, the old value during a rotation overlap; create, regenerate, revoke the
 * old value, delete.
 */
import type { AccountApiKey, UserAccount } from "@tessera/sdk/proto";
import { AccountRole } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { expiryCell, lastUseCell, oldValueCell } from "./key-cells.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { deleteKey, newKeyDialog, regenerateDialog } from "./key-dialogs.js";

/** The "API keys" page (`#/keys`). */
export const apiKeysPage: Page = { id: "keys", title: "API keys", render: keysPage };

async function keysPage(acc: UserAccount): Promise<void> {
  const canWrite = acc.role === AccountRole.ADMIN || acc.role === AccountRole.MEMBER;
  let keys: AccountApiKey[];
  try {
    keys = (await tessera.apiKeys.getAccountApiKeys({ accountId: acc.id })).apiKeys;
  } catch (e) {
    return failed(e);
  }
  const reload = () => void keysPage(acc);
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h(
        "div",
        { class: "row" },
        h(
          "div",
          {},
          h("h1", {}, "API keys"),
          h("div", { class: "muted small" }, `Account ${acc.name} · keys act as this account; each is shown once, when created.`),
        ),
        h(
          "button",
          {
            type: "button",
            class: "primary",
            id: "new-key",
            disabled: !canWrite,
            title: canWrite ? undefined : "Viewers cannot create keys",
            onclick: () => newKeyDialog(acc, reload),
          },
          "+ New API Key",
        ),
      ),
      keysTable(keys, canWrite, reload),
    ),
  );
}

/** The keys as a table (or a hint when there are none); the buttons are disabled for viewers. */
function keysTable(keys: AccountApiKey[], canWrite: boolean, reload: () => void): HTMLElement {
  if (keys.length === 0) return h("div", { class: "empty" }, "No API keys yet. Create one for a script, worker or CI job.");
  // Many columns: the table scrolls sideways inside its card on narrow screens.
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "data-testid": "keys-table" },
      h("thead", {}, h("tr", {}, ...["Name", "Key", "Created (by)", "Expires", "Last used", "Old value", ""].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        ...keys.map((k) =>
          h(
            "tr",
            { "data-key-id": k.id, "data-key-name": k.name },
            h("td", {}, k.name),
            h("td", {}, h("code", {}, `${k.start}…`)),
            h("td", {}, fmt(k.createdAt), k.createdByEmail ? h("div", { class: "muted small clip", title: k.createdByEmail }, k.createdByEmail) : null),
            expiryCell(k),
            lastUseCell(k),
            oldValueCell(k, canWrite, reload),
            h(
              "td",
              { class: "actions-cell" },
              h("button", { type: "button", disabled: !canWrite, onclick: () => regenerateDialog(k, reload) }, "Regenerate"),
              h("button", { type: "button", class: "danger", disabled: !canWrite, onclick: () => void deleteKey(k, reload) }, "Delete"),
            ),
          ),
        ),
      ),
    ),
  );
}
