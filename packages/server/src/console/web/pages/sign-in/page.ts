/**
 * The sign-in page: email and password (and account creation when the server allows
 * sign-up), then one button per OpenID provider the server offers. A user with
 * two-factor authentication gets the code step next (mfa-step.ts).
 */
import { Code, ConnectError, EmailVerificationRequiredError, MfaRequiredError } from "@tessera/sdk";
import type { GetAuthConfigResponse, OidcProvider } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { append, byId, h, replace } from "../../dom.js";
import { message } from "../../format.js";
import { showBanner, view } from "../../layout.js";
import { navigate } from "../../navigation.js";
import { session } from "../../session.js";
import { RECOVERY_PATHS, resendVerificationButton } from "../recovery/page.js";
import { renderMfaStep } from "./mfa-step.js";
import { CALLBACK_PATH, startProviderLogin } from "./provider-login.js";

/** Shows the sign-in page (signed out: no nav, no account), with an optional notice. */
export function renderSignIn(notice?: string): void {
  session.me = undefined;
  session.account = undefined;
  byId("nav").hidden = true;
  replace(byId("session"));
  showBanner("");
  const cfg = session.authConfig!;
  const card = h("div", { class: "card signin" }, h("h1", {}, "Sign in to Tessera"));
  if (notice) append(card, h("div", { class: "banner info" }, notice));
  const error = h("div", { class: "error", role: "alert", "data-testid": "signin-error" });
  if (cfg.passwordLoginEnabled) append(card, passwordForm(cfg, error));
  if (cfg.oidcProviders.length > 0) {
    if (cfg.passwordLoginEnabled) append(card, h("div", { class: "divider" }, "or"));
    for (const p of cfg.oidcProviders) append(card, providerButton(p, error));
  }
  if (!cfg.passwordLoginEnabled && cfg.oidcProviders.length === 0) append(card, h("p", { class: "muted" }, "No sign-in method is enabled on this server."));
  append(card, error);
  replace(view(), card);
  card.querySelector<HTMLInputElement>("input")?.focus();
}

/** Email and password: "Sign in" submits, "Create account" signs up (when enabled). */
function passwordForm(cfg: GetAuthConfigResponse, error: HTMLElement): HTMLFormElement {
  const email = h("input", { id: "email", name: "email", type: "email", required: true, autocomplete: "username" });
  const password = h("input", { id: "password", name: "password", type: "password", required: true, autocomplete: "current-password", minlength: 12 });
  const submit = async (signUp: boolean) => {
    error.textContent = "";
    if (!email.reportValidity() || !password.reportValidity()) return;
    try {
      if (signUp) await tessera.signUp(email.value, password.value);
      else await tessera.signIn(email.value, password.value);
      await navigate.enter();
    } catch (e) {
      if (e instanceof EmailVerificationRequiredError) return renderSignIn(e.message);
      if (e instanceof MfaRequiredError) return renderMfaStep(e.challenge);
      error.textContent = message(e);
      // The right password, an unconfirmed address (AUTH_REQUIRE_VERIFIED_EMAIL): offer a new link.
      if (ConnectError.from(e).code === Code.FailedPrecondition && /not verified/.test(message(e))) {
        const address = email.value;
        append(
          error,
          " ",
          resendVerificationButton(address, (text) => (error.textContent = text)),
        );
      }
    }
  };
  return h(
    "form",
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void submit(false);
      },
    },
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    h(
      "div",
      { class: "actions" },
      cfg.signupEnabled && h("button", { type: "button", onclick: () => void submit(true) }, "Create account"),
      h("button", { type: "submit", class: "primary" }, "Sign in"),
    ),
    h("p", { class: "muted" }, h("a", { href: RECOVERY_PATHS.forgot, "data-testid": "forgot-password" }, "Forgot your password?")),
  );
}

/** "Sign in with <provider>": starts the OpenID login; a refused redirect URI gets a hint for the operator. */
function providerButton(p: OidcProvider, error: HTMLElement): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: "provider",
      onclick: () =>
        startProviderLogin(p.id).catch((e: unknown) => {
          const m = message(e);
          error.textContent = /redirect_uri is not allowed/.test(m)
            ? `This server does not allow ${location.origin}${CALLBACK_PATH} as a redirect URI: add it to AUTH_ALLOWED_REDIRECT_URIS.`
            : m;
        }),
    },
    `Sign in with ${p.name || "your identity provider"}`,
  );
}
