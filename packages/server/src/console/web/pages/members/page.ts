/**
 * The "Members" page. A team account: its members (admins may remove others), the
 * invites (admins), and joining another team. A personal account: creating a team,
 * and joining one.
 */
import type { AccountInvite, UserAccount } from "@tessera/sdk/proto";
import { AccountRole, AccountType } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { roleName } from "../../format.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { session } from "../../session.js";
import { invitesCard } from "./invites-card.js";
import { joinCard, personalMembersCard } from "./team-cards.js";

/** The "Members" page (`#/members`). */
export const membersPage: Page = { id: "members", title: "Members", render: renderMembers };

async function renderMembers(acc: UserAccount): Promise<void> {
  if (acc.type === AccountType.PERSONAL) {
    replace(view(), personalMembersCard(acc), joinCard());
    return;
  }
  const isAdmin = acc.role === AccountRole.ADMIN;
  const reload = () => void renderMembers(acc);
  let users: Awaited<ReturnType<typeof tessera.userAccounts.getTeamAccountMembers>>["users"];
  let invites: AccountInvite[];
  try {
    users = (await tessera.userAccounts.getTeamAccountMembers({ accountId: acc.id })).users;
    invites = isAdmin ? (await tessera.userAccounts.getTeamAccountInvites({ accountId: acc.id })).invites : [];
  } catch (e) {
    return failed(e);
  }
  const members = h(
    "div",
    { class: "card" },
    h("h1", {}, "Members"),
    h("p", { class: "muted small" }, `Team account ${acc.name} · your role: ${roleName(acc.role)}`),
    h(
      "table",
      { "data-testid": "members-table" },
      h("thead", {}, h("tr", {}, ...["Name", "Email", "Role", ""].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        ...users.map((u) =>
          h(
            "tr",
            { "data-user-id": u.id },
            h("td", {}, u.name || "—", u.id === session.me?.userId ? " (you)" : ""),
            h("td", {}, u.email || "—"),
            h("td", {}, h("span", { class: "badge" }, roleName(u.role))),
            h(
              "td",
              { class: "actions-cell" },
              isAdmin &&
                u.id !== session.me?.userId &&
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    onclick: async () => {
                      const ok = await confirmDialog({
                        title: `Remove ${u.email || u.name || u.id}?`,
                        body: `They lose access to ${acc.name} at once.`,
                        confirm: "Remove",
                        danger: true,
                      });
                      if (!ok) return;
                      await tessera.userAccounts.removeTeamAccountMember({ accountId: acc.id, userId: u.id }).then(reload, (e: unknown) => failed(e));
                    },
                  },
                  "Remove",
                ),
            ),
          ),
        ),
      ),
    ),
  );
  const cards: HTMLElement[] = [members];
  if (isAdmin) cards.push(invitesCard(acc, invites, reload));
  cards.push(joinCard());
  replace(view(), ...cards);
}
