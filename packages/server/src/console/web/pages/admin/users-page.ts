/**
 * The "Admin" page (`#/admin`, instance admins only): users with search (email or
 * name), the disabled filter and paging; a user's own page is `#/admin/user/<id>`.
 */
import { UserDisabledFilter, type AdminUser } from "@tessera/sdk/proto";
import { admin } from "../../client.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { session } from "../../session.js";
import { pager } from "./keys-table.js";
import { renderUserPage, statusBadges } from "./user-page.js";

const USER_ROUTE = "#/admin/user/";
const PAGE_SIZE = 25;

/** The list's state while the tab stays on it. */
const state: { query: string; disabled: UserDisabledFilter; tokens: string[] } = { query: "", disabled: UserDisabledFilter.ANY, tokens: [""] };

/** The "Admin" page. */
export const adminUsersPage: Page = {
  id: "admin",
  title: "Admin",
  visible: () => session.me?.instanceAdmin === true,
  render: () => (location.hash.startsWith(USER_ROUTE) ? renderUserPage(decodeURIComponent(location.hash.slice(USER_ROUTE.length))) : renderUsers()),
};

async function renderUsers(): Promise<void> {
  let users: AdminUser[];
  let next: string;
  try {
    const res = await admin.listUsers({ query: state.query, disabled: state.disabled, pageSize: PAGE_SIZE, pageToken: state.tokens.at(-1) ?? "" });
    users = res.users;
    next = res.nextPageToken;
  } catch (e) {
    return failed(e);
  }
  const search = h("input", { id: "admin-search", type: "search", placeholder: "email or name", value: state.query, "aria-label": "search users" });
  const filter = h(
    "select",
    { id: "admin-disabled", "aria-label": "disabled filter" },
    h("option", { value: String(UserDisabledFilter.ANY) }, "all users"),
    h("option", { value: String(UserDisabledFilter.NONE) }, "enabled only"),
    h("option", { value: String(UserDisabledFilter.ONLY) }, "disabled only"),
  );
  filter.value = String(state.disabled);
  const apply = () => {
    state.query = search.value;
    state.disabled = Number(filter.value) as UserDisabledFilter;
    state.tokens = [""];
    void renderUsers();
  };
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h("h1", {}, "Users"),
      h("p", { class: "muted small" }, "Every human user of this instance, newest first. ", h("a", { href: "#/admin-keys" }, "API keys across accounts →")),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            apply();
          },
        },
        search,
        filter,
        h("button", { type: "submit", class: "primary" }, "Search"),
      ),
      users.length === 0
        ? h("div", { class: "empty" }, "No users match.")
        : h(
            "table",
            { "data-testid": "admin-users-table" },
            h("thead", {}, h("tr", {}, ...["Email", "Name", "Status", "Created", "Last sign-in"].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              ...users.map((u) =>
                h(
                  "tr",
                  { "data-user-id": u.id },
                  h("td", {}, h("a", { href: `${USER_ROUTE}${encodeURIComponent(u.id)}` }, u.email || u.id)),
                  h("td", {}, u.name || "—"),
                  h("td", {}, statusBadges(u)),
                  h("td", {}, fmt(u.createdAt)),
                  h("td", {}, fmt(u.lastSignInAt)),
                ),
              ),
            ),
          ),
      pager(state.tokens, next, (tokens) => {
        state.tokens = tokens;
        void renderUsers();
      }),
    ),
  );
}
