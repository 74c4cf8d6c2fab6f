/**
 * The API-key actions: create (name, expiry, optional scopes and limits; shows the value
 * once), regenerate (new value; the old one stops now or after an overlap), delete (confirmed).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@tessera/sdk";
import type { AccountApiKey, UserAccount } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { closeDialog, confirmDialog, openDialog, showSecret } from "../../dialogs.js";
import { h } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { showBanner } from "../../layout.js";
import { expiryPicker } from "./expiry-picker.js";
import { restrictionsPicker, type Restrictions } from "./limits-picker.js";

/** Overlaps offered by the regenerate dialog (seconds; at most 24 hours). */
const OVERLAPS: Array<[string, number]> = [
  ["None: the old value stops now", 0],
  ["10 minutes", 600],
  ["1 hour", 3600],
  ["6 hours", 21_600],
  ["24 hours", 86_400],
];

/** The "New API key" dialog: name and expiry, then the value shown once; `reload` when done. */
export function newKeyDialog(acc: UserAccount, reload: () => void): void {
  const name = h("input", { id: "key-name", name: "name", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. ci or billing-worker" });
  const expiry = expiryPicker();
  const restrictions = restrictionsPicker();
  const error = h("div", { class: "error", role: "alert" });
  const create = h("button", { type: "submit", class: "primary", id: "create-key" }, "Create key");
  openDialog(
    h(
      "form",
      {
        "data-testid": "new-key-dialog",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.textContent = "";
          let expiresAt: Date;
          let limits: Restrictions;
          try {
            expiresAt = expiry.value();
            limits = restrictions.value();
          } catch (e) {
            error.textContent = (e as Error).message;
            return;
          }
          create.disabled = true;
          try {
            const res = await tessera.apiKeys.createAccountApiKey({
              accountId: acc.id,
              name: name.value.trim(),
              expiresAt: timestampFromDate(expiresAt),
              ...limits,
            });
            showSecret({
              title: `API key "${res.apiKey?.name}" created`,
              value: res.keyValue,
              explain: `Send it as "Authorization: Bearer <key>". It expires ${fmt(res.apiKey?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            create.disabled = false;
            await failed(e, error);
          }
        },
      },
      h("h2", {}, "New API key"),
      h("p", { class: "muted small" }, `For account ${acc.name}.`),
      h("label", { for: "key-name" }, "Name"),
      name,
      h("label", { for: "key-expiry" }, "Expires in"),
      expiry.el,
      restrictions.el,
      error,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: closeDialog }, "Cancel"), create),
    ),
  );
}

/** The "Regenerate" dialog: a new expiry and an overlap, then the new value shown once; `reload` when done. */
export function regenerateDialog(k: AccountApiKey, reload: () => void): void {
  const expiry = expiryPicker();
  const overlap = h("select", { id: "key-overlap", name: "overlap" }, ...OVERLAPS.map(([label, s]) => h("option", { value: String(s) }, label)));
  const error = h("div", { class: "error", role: "alert" });
  openDialog(
    h(
      "form",
      {
        "data-testid": "regenerate-dialog",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.textContent = "";
          try {
            const res = await tessera.apiKeys.regenerateAccountApiKey({
              id: k.id,
              expiresAt: timestampFromDate(expiry.value()),
              overlapSeconds: Number(overlap.value),
            });
            const old = res.apiKey?.previousValueExpiresAt;
            showSecret({
              title: `API key "${k.name}" regenerated`,
              value: res.keyValue,
              explain: `${old ? `The previous value keeps working until ${fmt(old)}.` : "The previous value no longer works."} The new one expires ${fmt(res.apiKey?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            if (e instanceof ConnectError) await failed(e, error);
            else error.textContent = (e as Error).message;
          }
        },
      },
      h("h2", {}, `Regenerate "${k.name}"?`),
      h("p", {}, "The key gets a new value, which works at once. Keep the current value working for a while to roll the new one out without downtime."),
      h("label", { for: "key-expiry" }, "New expiry"),
      expiry.el,
      h("label", { for: "key-overlap" }, "Keep the current value working for"),
      overlap,
      error,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: closeDialog }, "Cancel"),
        h("button", { type: "submit", class: "danger solid" }, "Regenerate"),
      ),
    ),
  );
}

/** Deletes a key after confirmation, then `reload`. */
export async function deleteKey(k: AccountApiKey, reload: () => void): Promise<void> {
  const ok = await confirmDialog({
    title: `Delete API key "${k.name}"?`,
    body: "Anything using this key stops working immediately. This cannot be undone.",
    confirm: "Delete key",
    danger: true,
  });
  if (!ok) return;
  try {
    await tessera.apiKeys.deleteAccountApiKey({ id: k.id });
    showBanner("");
    reload();
  } catch (e) {
    await failed(e);
  }
}
