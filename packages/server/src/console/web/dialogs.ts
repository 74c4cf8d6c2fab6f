/** The console's one modal dialog (index.html's #dialog): open, close, confirm, show a secret once. */
import { byId, h, replace } from "./dom.js";

const dialog = () => byId<HTMLDialogElement>("dialog");

/** Opens the dialog with this content and focuses its first field or main button. */
export function openDialog(...content: HTMLElement[]): void {
  const d = dialog();
  replace(d, ...content);
  if (!d.open) d.showModal();
  const first = d.querySelector<HTMLElement>("input:not([readonly]), button.primary, button.danger");
  first?.focus();
}

/** Closes the dialog and empties it. */
export function closeDialog(): void {
  const d = dialog();
  if (d.open) d.close();
  d.replaceChildren();
}

/** A confirmation dialog; resolves true when confirmed. */
export function confirmDialog(opts: { title: string; body: string; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (v: boolean) => {
      dialog().removeEventListener("close", onClose);
      closeDialog();
      resolve(v);
    };
    const onClose = () => done(false);
    openDialog(
      h(
        "div",
        { "data-testid": "confirm-dialog" },
        h("h2", {}, opts.title),
        h("p", {}, opts.body),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
          h("button", { type: "button", class: opts.danger ? "danger solid" : "primary", "data-testid": "confirm", onclick: () => done(true) }, opts.confirm),
        ),
      ),
    );
    dialog().addEventListener("close", onClose);
  });
}

/** Shows a secret once, with a copy button and the warning that it cannot be shown again. */
export function showSecret(opts: { title: string; value: string; explain: string; onDone: () => void }): void {
  const input = h("input", { id: "new-key-value", "data-testid": "new-key-value", readonly: true, value: opts.value, "aria-label": "secret value" });
  const copy = h(
    "button",
    {
      type: "button",
      class: "primary",
      "data-testid": "copy",
      onclick: () => {
        const ok = () => (copy.textContent = "Copied");
        navigator.clipboard?.writeText(opts.value).then(ok, () => {
          input.select();
          if (document.execCommand("copy")) ok();
        }) ??
          (() => {
            input.select();
            if (document.execCommand("copy")) ok();
          })();
      },
    },
    "Copy",
  );
  openDialog(
    h(
      "div",
      { "data-testid": "secret-dialog" },
      h("h2", {}, opts.title),
      h("p", {}, opts.explain),
      h("div", { class: "secret" }, input, copy),
      h("div", { class: "warning", role: "note" }, h("strong", {}, "Copy it now. "), "It cannot be shown again: Tessera keeps only its hash."),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            "data-testid": "done",
            onclick: () => {
              closeDialog();
              opts.onDone();
            },
          },
          "Done",
        ),
      ),
    ),
  );
  input.select();
}
