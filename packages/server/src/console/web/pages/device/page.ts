/**
 * The "Device login" page (`#/device`, reached from `/console/device?user_code=...`): a
 * program without a browser (RFC 8628) showed its user a code; the signed-in user types
 * it (or arrives with it filled in), sees which program asks, from which address and
 * when, and approves or denies. Approving lets that program act as the user.
 */
import { DeviceLoginService } from "@tessera/sdk";
import type { DeviceLogin } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { session } from "../../session.js";

/** The path a program's `verification_uri` names. */
export const DEVICE_PATH = "/console/device";
/** The sessionStorage key keeping the code from `?user_code=` across sign-in. */
const PENDING_KEY = "tessera.console.device-code";

/**
 * On `/console/device`: remembers the `user_code` of the address (through sign-in,
 * even a provider's redirect) and moves to `#/device`.
 */
export function rememberDeviceCode(): void {
  const code = new URLSearchParams(location.search).get("user_code");
  if (code) sessionStorage.setItem(PENDING_KEY, code.slice(0, 64));
  history.replaceState(null, "", "/console/#/device");
}

/** After a provider sign-in: back to the device page when a code is waiting. */
export function resumeDeviceLogin(): void {
  if (sessionStorage.getItem(PENDING_KEY) !== null) history.replaceState(null, "", "/console/#/device");
}

/** A client of DeviceLoginService over the console's session. */
const devices = () => tessera.client(DeviceLoginService);

/** The "Device login" page. */
export const devicePage: Page = { id: "device", title: "Device login", render: () => renderDevicePage() };

async function renderDevicePage(): Promise<void> {
  const pending = sessionStorage.getItem(PENDING_KEY) ?? "";
  sessionStorage.removeItem(PENDING_KEY);
  const error = h("div", { class: "error", role: "alert", "data-testid": "device-error" });
  const details = h("div", { "data-testid": "device-details" });
  const input = h("input", {
    id: "user-code",
    name: "user_code",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "XXXX-XXXX",
    value: pending,
  });
  const lookUp = async () => {
    error.textContent = "";
    replace(details);
    if (!input.reportValidity()) return;
    try {
      const { deviceLogin } = await devices().getDeviceLogin({ userCode: input.value });
      if (deviceLogin) replace(details, decisionCard(deviceLogin, error));
    } catch (e) {
      await failed(e, error);
    }
  };
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h("h1", {}, "Sign in a device"),
      h("p", { class: "muted" }, "A program (such as tessera login in a terminal) showed you a code. Enter it to see which program asks to sign in as you."),
      h("label", { for: "user-code" }, "Code"),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            void lookUp();
          },
        },
        input,
        h("button", { type: "submit", class: "primary" }, "Continue"),
      ),
      error,
      details,
    ),
  );
  if (pending) await lookUp();
  else input.focus();
}

/** What the program is, and the two buttons. */
function decisionCard(d: DeviceLogin, error: HTMLElement): HTMLElement {
  const who = session.me?.email || session.me?.name || "you";
  const deny = h("button", { type: "button", class: "danger", onclick: () => void decide(false) }, "Deny");
  const approveButton = h("button", { type: "button", class: "primary", onclick: () => void decide(true) }, "Approve");
  const setBusy = (busy: boolean) => {
    deny.disabled = busy;
    approveButton.disabled = busy;
  };
  const decide = async (approve: boolean) => {
    error.textContent = "";
    setBusy(true);
    try {
      const svc = devices();
      if (approve) await svc.approveDeviceLogin({ userCode: d.userCode });
      else await svc.denyDeviceLogin({ userCode: d.userCode });
      replace(
        card,
        h("h2", {}, approve ? "Device signed in" : "Device refused"),
        h("p", { "data-testid": "device-result" }, approve ? `${d.clientName} is signed in as ${who}. You can return to it.` : `${d.clientName} was refused.`),
      );
    } catch (e) {
      setBusy(false);
      await failed(e, error);
    }
  };
  const card: HTMLElement = h(
    "div",
    { class: "stack" },
    h("h2", {}, `Code ${d.userCode}`),
    h(
      "table",
      { "data-testid": "device-table" },
      h(
        "tbody",
        {},
        row("Program", d.clientName),
        row("Requested from", d.clientIp || "unknown address"),
        row("User agent", d.userAgent || "—"),
        row("Requested at", fmt(d.createdAt)),
        row("Code expires", fmt(d.expiresAt)),
      ),
    ),
    h(
      "div",
      { class: "warning" },
      `Approve only if you started this sign-in yourself, just now, on a device you trust: the program will act as ${who}. If you did not, deny it.`,
    ),
    h("div", { class: "actions" }, deny, approveButton),
  );
  return card;
}

function row(label: string, value: string): HTMLElement {
  return h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value));
}
