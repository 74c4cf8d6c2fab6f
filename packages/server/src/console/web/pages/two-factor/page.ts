/**
 * The "Two-factor authentication" page: whether TOTP is on and how many recovery codes
 * are left; enrolment (a QR code of the `otpauth://` URI and the secret as text, confirmed
 * with a code, then the 10 recovery codes once; started with the password, or for a user
 * without one a recent sign-in); new recovery codes; turning it off
 * (password, or a recovery code for users without one, and a current code).
 */
import { IdentityService, MfaService, type GetMfaStatusResponse, type StartTotpEnrollmentResponse } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { qrCode } from "./qr.js";
import { recoveryCodesCard } from "./recovery-codes.js";

/** The "Two-factor authentication" page (`#/two-factor`). */
export const twoFactorPage: Page = { id: "two-factor", title: "Two-factor", render: () => renderTwoFactor() };

const mfa = tessera.client(MfaService);
const identities = tessera.client(IdentityService);

/** A 6-digit code field. */
function codeInput(id: string): HTMLInputElement {
  return h("input", {
    id,
    name: id,
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9 ]{6,7}",
    maxlength: 7,
    required: true,
    placeholder: "123456",
  });
}

/** A form whose submit runs `action` and shows its error in the form. */
function form(action: (error: HTMLElement) => Promise<void>, ...children: HTMLElement[]): HTMLFormElement {
  const error = h("div", { class: "error", role: "alert" });
  const f = h("form", {
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      error.textContent = "";
      if (!f.reportValidity()) return;
      void action(error).catch((e: unknown) => failed(e, error));
    },
  });
  f.append(...children, error);
  return f;
}

async function renderTwoFactor(): Promise<void> {
  let st: GetMfaStatusResponse;
  try {
    st = await mfa.getMfaStatus({});
  } catch (e) {
    return failed(e);
  }
  const status = h(
    "p",
    { "data-testid": "mfa-status", "data-enabled": String(st.totpEnabled), "data-remaining": st.recoveryCodesRemaining },
    st.totpEnabled
      ? `On since ${fmt(st.totpEnabledAt)}: sign-in asks for a code of your authenticator app. ${st.recoveryCodesRemaining} recovery codes left.`
      : "Off: your password alone signs you in.",
  );
  const card = h("div", { class: "card" }, h("h1", {}, "Two-factor authentication"), status);
  if (!st.totpEnabled) {
    card.append(await enrolForm(card));
    replace(view(), card);
    return;
  }
  replace(view(), card, await regenerateCard(), await disableCard());
}

/**
 * The button that starts an enrolment; a user with a password gives it first (a stolen
 * session alone must not turn TOTP on). A user without one needs a recent sign-in: the
 * server says "sign in again" otherwise, shown in the form.
 */
async function enrolForm(card: HTMLElement): Promise<HTMLFormElement> {
  const hasPassword = await identities.listIdentities({}).then(
    (r) => r.hasPassword,
    () => true,
  );
  const password = h("input", { id: "enrol-password", type: "password", autocomplete: "current-password", required: true });
  const fields: HTMLElement[] = hasPassword ? [h("label", { for: "enrol-password" }, "Password"), password] : [];
  return form(
    async () => {
      const started = await mfa.startTotpEnrollment({ password: hasPassword ? password.value : "" });
      showEnrolment(card, started);
    },
    ...fields,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Set up authenticator app")),
  );
}

/** Shows the QR code, the secret and the confirmation form of a started enrolment. */
function showEnrolment(card: HTMLElement, started: StartTotpEnrollmentResponse): void {
  const code = codeInput("totp-code");
  const confirm = form(
    async () => {
      const { recoveryCodes } = await mfa.confirmTotpEnrollment({ code: code.value.replace(/\s+/g, "") });
      replace(
        view(),
        recoveryCodesCard(recoveryCodes, () => void renderTwoFactor()),
      );
    },
    h("label", { for: "totp-code" }, "Code from the app"),
    code,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => void renderTwoFactor() }, "Cancel"),
      h("button", { type: "submit", class: "primary" }, "Turn on"),
    ),
  );
  replace(
    card,
    h("h1", {}, "Set up your authenticator app"),
    h("p", {}, "Scan this QR code with an authenticator app (or type the secret below), then enter the 6-digit code it shows."),
    h("div", { class: "qr", "data-testid": "totp-qr", "data-otpauth-uri": started.otpauthUri }, qrCode(started.otpauthUri)),
    h(
      "p",
      {},
      "Secret: ",
      h("code", { class: "mono", "data-testid": "totp-secret", "data-secret": started.secret }, started.secret.replace(/(.{4})/g, "$1 ").trim()),
    ),
    started.expiresAt && h("p", { class: "muted small" }, `Enter a code before ${fmt(started.expiresAt)}.`),
    confirm,
  );
  code.focus();
}

/** New recovery codes (the old ones stop working), with a current code. */
async function regenerateCard(): Promise<HTMLElement> {
  const code = codeInput("regenerate-code");
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Recovery codes"),
    h("p", { class: "muted small" }, "Make 10 new recovery codes; the old ones stop working."),
    form(
      async () => {
        const { recoveryCodes } = await mfa.regenerateRecoveryCodes({ code: code.value.replace(/\s+/g, "") });
        replace(
          view(),
          recoveryCodesCard(recoveryCodes, () => void renderTwoFactor()),
        );
      },
      h("label", { for: "regenerate-code" }, "Code from the app"),
      code,
      h("div", { class: "actions" }, h("button", { type: "submit" }, "New recovery codes")),
    ),
  );
}

/**
 * Turning TOTP off: the password and a current code (or a recovery code for a lost app);
 * for a user without a password, a recovery code and a current code.
 */
async function disableCard(): Promise<HTMLElement> {
  const hasPassword = await identities.listIdentities({}).then(
    (r) => r.hasPassword,
    () => true,
  );
  const password = h("input", { id: "disable-password", type: "password", autocomplete: "current-password", required: true });
  const recovery = h("input", { id: "disable-recovery-code", autocomplete: "off", spellcheck: false, required: true });
  const code = codeInput("disable-code");
  const recoveryField = h("div", {}, h("label", { for: "disable-recovery-code" }, "A recovery code"), recovery);
  const codeField = h("div", {}, h("label", { for: "disable-code" }, "Code from the app"), code);
  // A password user may give a recovery code instead of the app's code (a lost device).
  let lostApp = false;
  const toggle = h(
    "button",
    {
      type: "button",
      class: "link",
      "data-testid": "disable-use-recovery-code",
      onclick: () => {
        lostApp = !lostApp;
        replace(slot, lostApp ? recoveryField : codeField);
        toggle.textContent = lostApp ? "Use the app's code instead" : "Lost your app? Use a recovery code instead";
      },
    },
    "Lost your app? Use a recovery code instead",
  );
  const slot = h("div", {}, codeField);
  const fields: HTMLElement[] = hasPassword
    ? [h("label", { for: "disable-password" }, "Password"), password, slot, h("p", { class: "small" }, toggle)]
    : [recoveryField, codeField];
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Turn off"),
    h("p", { class: "muted small" }, "Sign-in then asks only for your password; the recovery codes are deleted."),
    form(
      async () => {
        const useRecovery = !hasPassword || lostApp;
        await mfa.disableTotp({
          password: hasPassword ? password.value : "",
          recoveryCode: useRecovery ? recovery.value.trim() : "",
          code: hasPassword && lostApp ? "" : code.value.replace(/\s+/g, ""),
        });
        await renderTwoFactor();
      },
      ...fields,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Turn off two-factor authentication")),
    ),
  );
}
