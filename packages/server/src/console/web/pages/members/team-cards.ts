/** Cards that move the user into a team: create one (from a personal account) and join one with an invite token. */
import type { UserAccount } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { h } from "../../dom.js";
import { failed } from "../../errors.js";
import { navigate } from "../../navigation.js";
import { loadAccounts } from "../../session.js";

/** A personal account's members card: no one else, and a form to create a team account (then switch to it). */
export function personalMembersCard(acc: UserAccount): HTMLElement {
  const name = h("input", { id: "team-name", required: true, maxlength: 100, placeholder: "Team name", "aria-label": "team name" });
  const error = h("div", { class: "error", role: "alert" });
  return h(
    "div",
    { class: "card" },
    h("h1", {}, "Members"),
    h("p", {}, `${acc.name} is your personal account: it has no other members. Create a team account to invite people.`),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          try {
            const res = await tessera.userAccounts.createTeamAccount({ name: name.value.trim() });
            await loadAccounts();
            if (res.account) navigate.useAccount(res.account.id);
          } catch (e) {
            await failed(e, error);
          }
        },
      },
      name,
      h("button", { type: "submit", class: "primary", id: "create-team" }, "Create team account"),
    ),
    error,
  );
}

/** "Join a team": accepts an invite token, then switches to the team. */
export function joinCard(): HTMLElement {
  const token = h("input", { id: "invite-token", required: true, placeholder: "tsi_…", autocomplete: "off", "aria-label": "invite token" });
  const error = h("div", { class: "error", role: "alert" });
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Join a team"),
    h("p", { class: "muted small" }, "Paste the invite token a team admin sent you."),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          try {
            const res = await tessera.userAccounts.acceptTeamAccountInvite({ token: token.value.trim() });
            await loadAccounts();
            if (res.account) navigate.useAccount(res.account.id);
          } catch (e) {
            await failed(e, error);
          }
        },
      },
      token,
      h("button", { type: "submit" }, "Join"),
    ),
    error,
  );
}
