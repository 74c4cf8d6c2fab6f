/**
 * The signed-out pages of account recovery (issue 18), reached from links in mail:
 * `/console/verify-email?token=...` (verifies at once), `/console/forgot-password`
 * (asks for a reset link), `/console/reset-password?token=...` (sets a new password).
 * Each ends back at the sign-in page. The token is removed from the address bar as soon
 * as it is read, so it stays out of history.
 */
import { AccountRecoveryService, Code, ConnectError } from "@tessera/sdk";
import { tessera } from "../../client.js";
import { append, byId, h, replace } from "../../dom.js";
import { message } from "../../format.js";
import { showBanner, view } from "../../layout.js";
import { navigate } from "../../navigation.js";

/** Only these pages use AccountRecoveryService: a client of its own (not part of `createTesseraClient`). */
const recovery = tessera.client(AccountRecoveryService);

/** The console's paths of these pages. */
export const RECOVERY_PATHS = {
  verify: "/console/verify-email",
  forgot: "/console/forgot-password",
  reset: "/console/reset-password",
} as const;

/** The `token` of the current URL, removed from the address bar. */
function takeToken(): string {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  history.replaceState(null, "", location.pathname);
  return token;
}

function signedOutCard(title: string): HTMLElement {
  byId("nav").hidden = true;
  replace(byId("session"));
  showBanner("");
  const card = h("div", { class: "card signin" }, h("h1", {}, title));
  replace(view(), card);
  return card;
}

const backToSignIn = () => h("a", { href: "/console/", "data-testid": "back-to-signin" }, "Back to sign-in");

/** Shows the page for the current path, if it is one of these; false otherwise. */
export function renderRecoveryPage(): boolean {
  switch (location.pathname) {
    case RECOVERY_PATHS.verify:
      void verifyEmail(takeToken());
      return true;
    case RECOVERY_PATHS.forgot:
      forgotPassword();
      return true;
    case RECOVERY_PATHS.reset:
      resetPassword(takeToken());
      return true;
    default:
      return false;
  }
}

async function verifyEmail(token: string): Promise<void> {
  const card = signedOutCard("Confirming your email address");
  try {
    await recovery.verifyEmail({ token });
    history.replaceState(null, "", "/console/");
    navigate.signIn("Your email address is confirmed. You can sign in.");
  } catch (e) {
    append(card, h("div", { class: "error", role: "alert", "data-testid": "recovery-error" }, message(e)), backToSignIn());
  }
}

/** "Forgot your password?": mails a link; the answer is the same for every address. */
function forgotPassword(): void {
  const card = signedOutCard("Reset your password");
  const email = h("input", { id: "email", name: "email", type: "email", required: true, autocomplete: "username" });
  const error = h("div", { class: "error", role: "alert", "data-testid": "recovery-error" });
  const form = h(
    "form",
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        if (!email.reportValidity()) return;
        error.textContent = "";
        recovery
          .requestPasswordReset({ email: email.value })
          .then(() =>
            replace(
              card,
              h("h1", {}, "Check your email"),
              h(
                "p",
                { "data-testid": "recovery-done" },
                `If ${email.value} has an account with a password, a link to reset it is on its way. It works for 30 minutes.`,
              ),
              backToSignIn(),
            ),
          )
          .catch((e: unknown) => (error.textContent = message(e)));
      },
    },
    h("p", { class: "muted" }, "Enter your email address: we will mail you a link to choose a new password."),
    h("label", { for: "email" }, "Email"),
    email,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Send the link")),
  );
  append(card, form, error, backToSignIn());
  email.focus();
}

/** The new password, twice; then back to sign-in (a reset never signs in). */
function resetPassword(token: string): void {
  const card = signedOutCard("Choose a new password");
  const password = h("input", { id: "new-password", name: "new-password", type: "password", required: true, autocomplete: "new-password", minlength: 12 });
  const again = h("input", {
    id: "new-password-again",
    name: "new-password-again",
    type: "password",
    required: true,
    autocomplete: "new-password",
    minlength: 12,
  });
  const error = h("div", { class: "error", role: "alert", "data-testid": "recovery-error" });
  const form = h(
    "form",
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        error.textContent = "";
        if (!password.reportValidity() || !again.reportValidity()) return;
        if (password.value !== again.value) {
          error.textContent = "the two passwords differ";
          return;
        }
        recovery
          .resetPassword({ token, newPassword: password.value })
          .then(() => {
            history.replaceState(null, "", "/console/");
            navigate.signIn("Your password was changed and every session signed out. Sign in with the new password.");
          })
          .catch((e: unknown) => {
            const bad = ConnectError.from(e).code === Code.InvalidArgument && /link/.test(message(e));
            error.textContent = message(e);
            if (bad) append(error, " ", h("a", { href: RECOVERY_PATHS.forgot }, "Ask for a new link"));
          });
      },
    },
    h("label", { for: "new-password" }, "New password"),
    password,
    h("label", { for: "new-password-again" }, "New password, again"),
    again,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Set the password")),
  );
  append(card, form, error, backToSignIn());
  password.focus();
}

/** Asks for a new verification link for `email` (the sign-in page offers it after an unverified login). */
export function resendVerificationButton(email: string, done: (text: string) => void): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      "data-testid": "resend-verification",
      onclick: () =>
        void recovery
          .resendVerification({ email })
          .then(() => done("If the address needs confirming, a new link is on its way."))
          .catch((e: unknown) => done(message(e))),
    },
    "Send the link again",
  );
}
