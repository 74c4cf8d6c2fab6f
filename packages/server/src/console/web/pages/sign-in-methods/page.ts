/**
 * The "Sign-in methods" page: the signed-in user's provider identities (unlink, unless it
 * is the last way to sign in: the server refuses that) and one "Link <provider>" button
 * per configured provider not linked yet, which starts a provider login carrying the
 * user's session (`link`), so the provider's account is linked to this user.
 */
import { IdentityService, type Identity } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { session } from "../../session.js";
import { startProviderLogin } from "../sign-in/provider-login.js";

/** The "Sign-in methods" page (`#/sign-in-methods`). */
export const signInMethodsPage: Page = { id: "sign-in-methods", title: "Sign-in methods", render: renderSignInMethods };

const identities = tessera.client(IdentityService);

async function renderSignInMethods(): Promise<void> {
  let list: Identity[];
  let hasPassword: boolean;
  try {
    ({ identities: list, hasPassword } = await identities.listIdentities({}));
  } catch (e) {
    return failed(e);
  }
  const error = h("div", { class: "error", role: "alert", "data-testid": "identities-error" });
  const reload = () => void renderSignInMethods();
  const unlink = async (i: Identity) => {
    const name = i.providerName || i.issuer;
    const ok = await confirmDialog({ title: `Unlink ${name}?`, body: `You can no longer sign in with this ${name} account.`, confirm: "Unlink", danger: true });
    if (!ok) return;
    await identities.unlinkIdentity({ id: i.id }).then(reload, (e: unknown) => failed(e, error));
  };
  const linked = new Set(list.map((i) => i.providerId));
  const providers = (session.authConfig?.oidcProviders ?? []).filter((p) => !linked.has(p.id));
  const card = h(
    "div",
    { class: "card" },
    h("h1", {}, "Sign-in methods"),
    h("p", { class: "muted small" }, hasPassword ? "You also sign in with your password." : "You have no password: keep at least one provider linked."),
    list.length === 0
      ? h("p", { class: "muted" }, "No provider account is linked.")
      : h(
          "table",
          { "data-testid": "identities-table" },
          h("thead", {}, h("tr", {}, ...["Provider", "Email", "Linked", ""].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            ...list.map((i) =>
              h(
                "tr",
                { "data-provider-id": i.providerId },
                h("td", {}, i.providerName || i.issuer),
                h("td", {}, i.email || "—", i.email && !i.emailVerified ? " (unverified)" : ""),
                h("td", {}, i.createdAt ? new Date(Number(i.createdAt.seconds) * 1000).toLocaleDateString() : "—"),
                h("td", { class: "actions-cell" }, h("button", { type: "button", class: "danger", onclick: () => void unlink(i) }, "Unlink")),
              ),
            ),
          ),
        ),
    providers.length > 0 &&
      h(
        "div",
        { class: "actions" },
        ...providers.map((p) =>
          h(
            "button",
            { type: "button", class: "provider", onclick: () => startProviderLogin(p.id, { link: true }).catch((e: unknown) => failed(e, error)) },
            `Link ${p.name}`,
          ),
        ),
      ),
    error,
  );
  replace(view(), card);
}
