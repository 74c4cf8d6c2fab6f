/**
 * The signed-in frame around the pages: the account picker, who is signed in and
 * "Sign out" in the top bar, and the nav with one link per page.
 */
import { AuthMode } from "@tessera/sdk";
import { AccountType } from "@tessera/sdk/proto";
import { tessera } from "../client.js";
import { byId, h, replace } from "../dom.js";
import { navigate } from "../navigation.js";
import type { Page } from "../page.js";
import { ACCOUNT_KEY, session } from "../session.js";

/** Renders the top bar's session controls and the nav (the `active` page's link marked). */
export function renderTopbar(pages: readonly Page[], active: Page): void {
  const select = h(
    "select",
    { id: "account", "aria-label": "account", onchange: (ev: Event) => navigate.useAccount((ev.target as HTMLSelectElement).value) },
    ...session.accounts.map((a) =>
      h("option", { value: a.id }, a.type === AccountType.PERSONAL && a.name.toLowerCase() !== "personal" ? `${a.name} (personal)` : a.name),
    ),
  );
  if (session.account) select.value = session.account.id;
  const signOut =
    session.authConfig?.mode !== AuthMode.NONE &&
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: async () => {
          await tessera.signOut().catch(() => {});
          sessionStorage.removeItem(ACCOUNT_KEY);
          history.replaceState(null, "", "/console/");
          navigate.signIn("You are signed out.");
        },
      },
      "Sign out",
    );
  replace(byId("session"), select, h("span", { class: "who" }, session.me?.email || session.me?.name || "anonymous"), signOut);
  const nav = byId("nav");
  nav.hidden = false;
  replace(nav, ...pages.map((p) => h("a", { href: `#/${p.id}`, class: p === active ? "active" : undefined }, p.title)));
}
