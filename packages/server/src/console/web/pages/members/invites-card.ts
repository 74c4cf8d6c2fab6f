/** The invites card of a team account (admins): invite by email and role, see and withdraw open invites. */
import type { AccountInvite, UserAccount } from "@tessera/sdk/proto";
import { AccountRole } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { confirmDialog, showSecret } from "../../dialogs.js";
import { h } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt, roleName } from "../../format.js";

/** The invites card: the invite form (the token is shown once) and the open invites; `reload` after a change. */
export function invitesCard(acc: UserAccount, invites: AccountInvite[], reload: () => void): HTMLElement {
  const email = h("input", { id: "invite-email", type: "email", required: true, placeholder: "name@example.com", "aria-label": "email to invite" });
  const role = h(
    "select",
    { id: "invite-role", "aria-label": "role" },
    h("option", { value: String(AccountRole.MEMBER) }, "member"),
    h("option", { value: String(AccountRole.ADMIN) }, "admin"),
    h("option", { value: String(AccountRole.VIEWER) }, "viewer"),
  );
  const error = h("div", { class: "error", role: "alert" });
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Invites"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.textContent = "";
          try {
            const res = await tessera.userAccounts.inviteUserToTeamAccount({
              accountId: acc.id,
              email: email.value.trim(),
              role: Number(role.value) as AccountRole,
            });
            showSecret({
              title: `Invite for ${res.invite?.email}`,
              value: res.token,
              explain: `Send this token to ${res.invite?.email}. They join in the console (Members → Join a team) or with \`tessera accounts join <token>\`, until ${fmt(res.invite?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            await failed(e, error);
          }
        },
      },
      email,
      role,
      h("button", { type: "submit", class: "primary", id: "invite" }, "Invite"),
    ),
    error,
    invites.length === 0 ? h("p", { class: "muted small" }, "No open invites.") : invitesTable(invites, reload),
  );
}

/** The open invites, each with "Withdraw" (confirmed). */
function invitesTable(invites: AccountInvite[], reload: () => void): HTMLElement {
  return h(
    "table",
    { "data-testid": "invites-table" },
    h("thead", {}, h("tr", {}, ...["Email", "Role", "Expires", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      ...invites.map((i) =>
        h(
          "tr",
          { "data-invite-id": i.id },
          h("td", {}, i.email),
          h("td", {}, h("span", { class: "badge" }, roleName(i.role))),
          h("td", {}, fmt(i.expiresAt)),
          h(
            "td",
            { class: "actions-cell" },
            h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: async () => {
                  const ok = await confirmDialog({
                    title: `Withdraw the invite for ${i.email}?`,
                    body: "The invite token stops working.",
                    confirm: "Withdraw",
                    danger: true,
                  });
                  if (ok) await tessera.userAccounts.removeTeamAccountInvite({ id: i.id }).then(reload, (e: unknown) => failed(e));
                },
              },
              "Withdraw",
            ),
          ),
        ),
      ),
    ),
  );
}
