/**
 * The "Admin: keys" page (`#/admin-keys`, instance admins only): API keys across
 * accounts with the filters of AdminService.ListApiKeys (account, creator, expiring
 * within N days, unused for N days), paging, and revoke.
 */
import type { AdminApiKey } from "@tessera/sdk/proto";
import { admin } from "../../client.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";
import { session } from "../../session.js";
import { EXPIRING_SOON_DAYS } from "../../format.js";
import { adminKeysTable, pager } from "./keys-table.js";

const PAGE_SIZE = 25;

/** The filters and pages while the tab stays on the page. */
const state = { accountId: "", createdByUserId: "", expiringWithinDays: 0, unusedForDays: 0, tokens: [""] };

/** The "Admin: keys" page. */
export const adminKeysPage: Page = { id: "admin-keys", title: "Admin: keys", visible: () => session.me?.instanceAdmin === true, render: renderKeys };

async function renderKeys(): Promise<void> {
  let keys: AdminApiKey[];
  let next: string;
  try {
    const { tokens, ...filters } = state;
    const res = await admin.listApiKeys({ ...filters, pageSize: PAGE_SIZE, pageToken: tokens.at(-1) ?? "" });
    keys = res.apiKeys;
    next = res.nextPageToken;
  } catch (e) {
    return failed(e);
  }
  const field = (id: string, label: string, value: string | number, type = "text") =>
    h("input", { id, type, placeholder: label, "aria-label": label, value: value === 0 ? "" : String(value), min: type === "number" ? 1 : undefined });
  const account = field("keys-account", "account id", state.accountId);
  const creator = field("keys-creator", "creator user id", state.createdByUserId);
  const expiring = field("keys-expiring", "expiring within days", state.expiringWithinDays, "number");
  const unused = field("keys-unused", "unused for days", state.unusedForDays, "number");
  const reload = () => void renderKeys();
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h("h1", {}, "API keys across accounts"),
      h("p", { class: "muted small" }, `Newest first. Keys expiring within ${EXPIRING_SOON_DAYS} days are marked. `, h("a", { href: "#/admin" }, "← Users")),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            state.accountId = account.value.trim();
            state.createdByUserId = creator.value.trim();
            state.expiringWithinDays = Number(expiring.value) || 0;
            state.unusedForDays = Number(unused.value) || 0;
            state.tokens = [""];
            reload();
          },
        },
        account,
        creator,
        expiring,
        unused,
        h("button", { type: "submit", class: "primary" }, "Filter"),
      ),
      adminKeysTable(keys, reload),
      pager(state.tokens, next, (tokens) => {
        state.tokens = tokens;
        reload();
      }),
    ),
  );
}
