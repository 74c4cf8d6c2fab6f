/**
 * The signed-in console: entering it after sign-in, the account in use, and which page
 * the address's hash (`#/<page id>`) shows. The first page is the default.
 */
import { AuthMode } from "@tessera/sdk";
import { tessera } from "../client.js";
import { h, replace } from "../dom.js";
import { failed } from "../errors.js";
import { showBanner, view } from "../layout.js";
import type { Page } from "../page.js";
import { loadAccounts, selectAccount, session } from "../session.js";
import { renderTopbar } from "./topbar.js";

/** The signed-in console's moves, over its pages. */
export interface Router {
  /** Loads the user and their accounts, then shows the page the hash names (the first page if none). */
  enter(): Promise<void>;
  /** Switches to an account and shows the current page for it. */
  useAccount(id: string): void;
  /** Shows the page the hash names for the account in use. */
  route(): Promise<void>;
}

/** A router over these pages (at least one; the first is the default). */
export function createRouter(pages: readonly [Page, ...Page[]]): Router {
  const shown = (): Page[] => pages.filter((p) => p.visible?.() ?? true);
  const currentPage = (): Page => shown().find((p) => location.hash === `#/${p.id}` || location.hash.startsWith(`#/${p.id}/`)) ?? pages[0];
  const renderSession = () => renderTopbar(shown(), currentPage());

  async function route(): Promise<void> {
    if (!session.account) return;
    renderSession();
    replace(view(), h("p", { class: "muted" }, "Loading…"));
    await currentPage().render(session.account);
  }

  function useAccount(id: string): void {
    selectAccount(id);
    renderSession();
    void route();
  }

  async function enter(): Promise<void> {
    try {
      const u = await tessera.userAccounts.getUser({});
      session.me = { userId: u.userId, email: u.email, name: u.name, instanceAdmin: u.instanceAdmin };
      await loadAccounts();
    } catch (e) {
      await failed(e);
      return;
    }
    showBanner(session.authConfig?.mode === AuthMode.NONE ? "This server runs with AUTH_MODE=none: everyone is the anonymous admin." : "", "info");
    renderSession();
    if (!location.hash) history.replaceState(null, "", `#/${pages[0].id}`);
    await route();
  }

  return { enter, useAccount, route };
}
