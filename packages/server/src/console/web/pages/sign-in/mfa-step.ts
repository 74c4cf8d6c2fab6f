/**
 * The second step of a sign-in (after the password, or after a provider's redirect) for
 * a user with two-factor authentication: the 6-digit code of the authenticator app, or
 * "use a recovery code instead". A wrong code may be tried again; an expired or used-up
 * challenge goes back to the sign-in page.
 */
import { Code, ConnectError, type MfaChallenge, type MfaProof } from "@tessera/sdk";
import { tessera } from "../../client.js";
import { byId, h, replace } from "../../dom.js";
import { message } from "../../format.js";
import { showBanner, view } from "../../layout.js";
import { navigate } from "../../navigation.js";

/** Shows the code step of a challenged sign-in; `after` runs once the tokens are stored. */
export function renderMfaStep(challenge: MfaChallenge, after?: () => Promise<void>): void {
  byId("nav").hidden = true;
  replace(byId("session"));
  showBanner("");
  let useRecovery = false;
  const error = h("div", { class: "error", role: "alert", "data-testid": "mfa-error" });
  const code = h("input", {
    id: "mfa-code",
    name: "code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9 ]{6,7}",
    maxlength: 7,
    required: true,
  });
  const recovery = h("input", { id: "recovery-code", name: "recovery-code", autocomplete: "off", required: true, spellcheck: false });
  const codeLabel = h("label", { for: "mfa-code" }, "Code from your authenticator app");
  const recoveryLabel = h("label", { for: "recovery-code" }, "Recovery code");
  const field = h("div", {}, codeLabel, code);
  const canRecover = challenge.methods.length === 0 || challenge.methods.includes("recovery_code");
  const toggle = h(
    "button",
    {
      type: "button",
      class: "link",
      "data-testid": "use-recovery-code",
      onclick: () => {
        useRecovery = !useRecovery;
        replace(field, ...(useRecovery ? [recoveryLabel, recovery] : [codeLabel, code]));
        toggle.textContent = useRecovery ? "Use the authenticator app instead" : "Use a recovery code instead";
        error.textContent = "";
        (useRecovery ? recovery : code).focus();
      },
    },
    "Use a recovery code instead",
  );
  const submit = async () => {
    error.textContent = "";
    const input = useRecovery ? recovery : code;
    if (!input.reportValidity()) return;
    const proof: MfaProof = useRecovery ? { recoveryCode: recovery.value.trim() } : { code: code.value.replace(/\s+/g, "") };
    try {
      await tessera.verifyMfa(challenge, proof);
    } catch (e) {
      if (ConnectError.from(e).code === Code.NotFound) return navigate.signIn(`${message(e)}: sign in again.`);
      error.textContent = message(e);
      input.select();
      return;
    }
    await after?.().catch(() => {});
    await navigate.enter();
  };
  const card = h(
    "div",
    { class: "card signin", "data-testid": "mfa-step" },
    h("h1", {}, "Two-factor authentication"),
    h("p", { class: "muted" }, "Enter the 6-digit code your authenticator app shows for Tessera."),
    h(
      "form",
      {
        onsubmit: (ev: Event) => {
          ev.preventDefault();
          void submit();
        },
      },
      field,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: () => navigate.signIn() }, "Cancel"),
        h("button", { type: "submit", class: "primary" }, "Verify"),
      ),
      canRecover && h("p", { class: "muted small" }, toggle),
    ),
    error,
  );
  replace(view(), card);
  code.focus();
}
