/**
 * An instance admin's view of one user (`#/admin/user/<id>`): its facts, identities,
 * open sessions (revoke all), accounts and the keys it created (revoke), and
 * disable/enable.
 */
import type { AdminUser, GetUserDetailsResponse } from "@tessera/sdk/proto";
import { admin, tessera } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt, roleName } from "../../format.js";
import { showBanner, view } from "../../layout.js";
import { session } from "../../session.js";
import { adminKeysTable } from "./keys-table.js";

/** Renders the user page. */
export async function renderUserPage(userId: string): Promise<void> {
  let d: GetUserDetailsResponse;
  try {
    d = await admin.getUserDetails({ userId });
  } catch (e) {
    return failed(e);
  }
  const u = d.user;
  if (!u) return;
  const reload = () => void renderUserPage(userId);
  const act = async (title: string, body: string, confirm: string, run: () => Promise<unknown>, done: string) => {
    if (!(await confirmDialog({ title, body, confirm, danger: true }))) return;
    try {
      await run();
      showBanner(done, "info");
      reload();
    } catch (e) {
      await failed(e);
    }
  };
  const who = u.email || u.name || u.id;
  const isMe = u.id === session.me?.userId;
  const table = (testId: string, heads: string[], rows: HTMLElement[], empty: string) =>
    rows.length === 0
      ? h("div", { class: "empty" }, empty)
      : h("table", { "data-testid": testId }, h("thead", {}, h("tr", {}, ...heads.map((t) => h("th", {}, t)))), h("tbody", {}, ...rows));
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h("p", { class: "small" }, h("a", { href: "#/admin" }, "← Users")),
      h(
        "div",
        { class: "row" },
        h("div", {}, h("h1", { "data-testid": "admin-user-heading" }, who), h("div", { class: "muted small" }, u.name, " · ", u.id)),
        h(
          "button",
          {
            type: "button",
            class: u.disabled ? "primary" : "danger",
            disabled: isMe,
            title: isMe ? "You cannot disable yourself" : undefined,
            onclick: () =>
              u.disabled
                ? void act(
                    `Enable ${who}?`,
                    "They can sign in again; their ended sessions stay ended.",
                    "Enable",
                    () => tessera.auth.setUserDisabled({ userId: u.id, disabled: false }),
                    `Enabled ${who}.`,
                  )
                : void act(
                    `Disable ${who}?`,
                    "Every session ends and sign-in is refused at once. Their accounts' keys keep working.",
                    "Disable",
                    () => tessera.auth.setUserDisabled({ userId: u.id, disabled: true }),
                    `Disabled ${who}.`,
                  ),
          },
          u.disabled ? "Enable" : "Disable",
        ),
      ),
      h(
        "p",
        {},
        statusBadges(u),
        h(
          "span",
          { class: "muted small" },
          ` · created ${fmt(u.createdAt)} · last sign-in ${fmt(u.lastSignInAt)} · ${u.hasPassword ? "has a password" : "no password"}`,
        ),
      ),
    ),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Identities"),
      table(
        "admin-identities",
        ["Provider", "Subject", "Email", "Linked"],
        d.identities.map((i) =>
          h(
            "tr",
            {},
            h("td", {}, i.providerName || i.issuer),
            h("td", {}, h("code", {}, i.subject)),
            h("td", {}, i.email || "—"),
            h("td", {}, fmt(i.createdAt)),
          ),
        ),
        "No provider identities.",
      ),
    ),
    h(
      "div",
      { class: "card" },
      h(
        "div",
        { class: "row" },
        h("h2", {}, "Sessions"),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            disabled: d.sessions.length === 0,
            onclick: () =>
              void act(
                `End every session of ${who}?`,
                "They are signed out everywhere; they can sign in again.",
                "Revoke all",
                () => tessera.auth.revokeUserSessions({ userId: u.id }),
                `Ended the sessions of ${who}.`,
              ),
          },
          "Revoke all sessions",
        ),
      ),
      table(
        "admin-sessions",
        ["Signed in", "Last used", "Ends", "Address", "Browser"],
        d.sessions.map((s) =>
          h(
            "tr",
            {},
            h("td", {}, fmt(s.createdAt)),
            h("td", {}, fmt(s.lastUsedAt)),
            h("td", {}, fmt(s.expiresAt)),
            h("td", {}, s.clientIp || "—"),
            h("td", { class: "small" }, s.userAgent || "—"),
          ),
        ),
        "No open sessions.",
      ),
    ),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Accounts"),
      table(
        "admin-accounts",
        ["Account", "Role", "Created"],
        d.accounts.map((a) => h("tr", {}, h("td", {}, a.name), h("td", {}, h("span", { class: "badge" }, roleName(a.role))), h("td", {}, fmt(a.createdAt)))),
        "No accounts.",
      ),
    ),
    h("div", { class: "card" }, h("h2", {}, "API keys they created"), adminKeysTable(d.apiKeys, reload)),
  );
}

/** Badges for a user's flags. */
export function statusBadges(u: AdminUser): HTMLElement {
  return h(
    "span",
    {},
    u.disabled ? h("span", { class: "badge warn" }, "disabled") : h("span", { class: "badge" }, "active"),
    u.instanceAdmin && h("span", { class: "badge" }, " instance admin"),
    !u.emailVerified && h("span", { class: "badge" }, " unverified"),
  );
}
