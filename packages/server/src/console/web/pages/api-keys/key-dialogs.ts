/** The API-key actions: create (shows the value once), regenerate (new value, old one dies), delete (confirmed). */
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

/** The "New API key" dialog: name and expiry, then the value shown once; `reload` when done. */
export function newKeyDialog(acc: UserAccount, reload: () => void): void {
  const name = h("input", { id: "key-name", name: "name", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. ci or billing-worker" });
  const expiry = expiryPicker();
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
          try {
            expiresAt = expiry.value();
          } catch (e) {
            error.textContent = (e as Error).message;
            return;
          }
          create.disabled = true;
          try {
            const res = await tessera.apiKeys.createAccountApiKey({ accountId: acc.id, name: name.value.trim(), expiresAt: timestampFromDate(expiresAt) });
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
      error,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: closeDialog }, "Cancel"), create),
    ),
  );
}

/** The "Regenerate" dialog: a new expiry, then the new value shown once; `reload` when done. */
export function regenerateDialog(k: AccountApiKey, reload: () => void): void {
  const expiry = expiryPicker();
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
            const res = await tessera.apiKeys.regenerateAccountApiKey({ id: k.id, expiresAt: timestampFromDate(expiry.value()) });
            showSecret({
              title: `API key "${k.name}" regenerated`,
              value: res.keyValue,
              explain: `The previous value no longer works. The new one expires ${fmt(res.apiKey?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            if (e instanceof ConnectError) await failed(e, error);
            else error.textContent = (e as Error).message;
          }
        },
      },
      h("h2", {}, `Regenerate "${k.name}"?`),
      h("p", {}, "The key gets a new value; the current value stops working immediately."),
      h("label", { for: "key-expiry" }, "New expiry"),
      expiry.el,
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
