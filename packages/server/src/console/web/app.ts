/**
 * The Tessera console (served at /console): sign in with a password or an identity
 * provider (or verify an email, reset a password from a mailed link), pick an account,
 * manage its API keys, members and invites, the user's sign-in methods (linked provider
 * accounts), approve device logins (`/console/device`); for instance admins, the
 * "Admin" pages (users, keys across accounts). Plain
 * TypeScript + DOM over the SDK with gRPC-web (client.ts; tokens in sessionStorage).
 *
 * This entry point lists the signed-in pages (one module each under pages/; the first
 * is the default), wires the top-level moves (navigation.ts) and boots. A new page is a
 * `Page` (page.ts) added to `PAGES`.
 */
import { AuthMode } from "@tessera/sdk";
import { tessera } from "./client.js";
import { h, replace } from "./dom.js";
import { message } from "./format.js";
import { view } from "./layout.js";
import { setNavigation } from "./navigation.js";
import type { Page } from "./page.js";
import { adminKeysPage } from "./pages/admin/keys-page.js";
import { adminUsersPage } from "./pages/admin/users-page.js";
import { apiKeysPage } from "./pages/api-keys/page.js";
import { devicePage, DEVICE_PATH, rememberDeviceCode, resumeDeviceLogin } from "./pages/device/page.js";
import { membersPage } from "./pages/members/page.js";
import { renderRecoveryPage } from "./pages/recovery/page.js";
import { renderSignIn } from "./pages/sign-in/page.js";
import { signInMethodsPage } from "./pages/sign-in-methods/page.js";
import { CALLBACK_PATH, finishProviderLogin } from "./pages/sign-in/provider-login.js";
import { session } from "./session.js";
import { createRouter } from "./shell/router.js";

/** The signed-in pages, in nav order; the first is the default. */
const PAGES: readonly [Page, ...Page[]] = [apiKeysPage, membersPage, signInMethodsPage, devicePage, adminUsersPage, adminKeysPage];

const router = createRouter(PAGES);
setNavigation({ signIn: renderSignIn, enter: router.enter, useAccount: router.useAccount });

/** Reads the server's auth configuration, finishes a provider login on the callback, then enters or asks to sign in. */
async function boot(): Promise<void> {
  try {
    session.authConfig = await tessera.auth.getAuthConfig({});
  } catch (e) {
    replace(view(), h("div", { class: "card" }, h("h1", {}, "Tessera is not reachable"), h("p", {}, message(e))));
    return;
  }
  // Links from mail (verify, reset) and "forgot password" work signed out.
  if (renderRecoveryPage()) return;
  if (location.pathname === DEVICE_PATH) rememberDeviceCode();
  if (location.pathname === CALLBACK_PATH) {
    const err = await finishProviderLogin();
    if (err) return renderSignIn(err);
    resumeDeviceLogin();
  }
  if (session.authConfig.mode === AuthMode.NONE || (await tessera.getTokens())) return router.enter();
  renderSignIn();
}

window.addEventListener("hashchange", () => void router.route());
void boot();
