/**
 * Recovery codes, shown once after they are made (enrolment, regeneration): the list,
 * "Copy" and "Download", and "Done" (they are not shown again).
 */
import { h } from "../../dom.js";

/** A card listing fresh recovery codes; `done` leaves it (the codes are gone from the page). */
export function recoveryCodesCard(codes: string[], done: () => void): HTMLElement {
  const status = h("span", { class: "muted small", role: "status" });
  const text = `${codes.join("\n")}\n`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Copying is not allowed here: select the codes and copy them.";
    }
  };
  const download = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = h("a", { href: url, download: `tessera-recovery-codes-${location.hostname}.txt` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return h(
    "div",
    { class: "card", "data-testid": "recovery-codes-card" },
    h("h2", {}, "Your recovery codes"),
    h(
      "p",
      { class: "warning" },
      "Each code signs you in once when your authenticator app is not at hand. They are shown only now: copy or download them and keep them somewhere safe.",
    ),
    h("ol", { class: "recovery-codes mono", "data-testid": "recovery-codes" }, ...codes.map((c) => h("li", {}, c))),
    h(
      "div",
      { class: "actions" },
      status,
      h("button", { type: "button", onclick: () => void copy() }, "Copy"),
      h("button", { type: "button", onclick: download }, "Download"),
      h("button", { type: "button", class: "primary", onclick: done }, "Done"),
    ),
  );
}
