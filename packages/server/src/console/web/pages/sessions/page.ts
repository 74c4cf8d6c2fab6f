/**
 * The "Sessions" page: the signed-in user's sessions (ListSessions) with how each was
 * signed in (RFC 8176 `amr`: password, one-time code, provider...) and a "2FA" mark for
 * those that passed a second factor; "Sign out" ends one (RevokeSession).
 */
import type { Session } from "@tessera/sdk/proto";
import { tessera } from "../../client.js";
import { confirmDialog } from "../../dialogs.js";
import { h, replace } from "../../dom.js";
import { failed } from "../../errors.js";
import { fmt } from "../../format.js";
import { view } from "../../layout.js";
import type { Page } from "../../page.js";

/** The "Sessions" page (`#/sessions`). */
export const sessionsPage: Page = { id: "sessions", title: "Sessions", render: () => renderSessions() };

/** RFC 8176 `amr` values as words ("mfa" is the 2FA mark). */
const AMR_WORDS: Readonly<Record<string, string>> = {
  pwd: "password",
  otp: "authenticator code",
  fed: "identity provider",
  hwk: "security key",
};

/** How a session was signed in, in words: a second factor without `otp` was a recovery code. */
function signedInWith(s: Session): string {
  const words = s.amr.filter((a) => a !== "mfa").map((a) => AMR_WORDS[a] ?? a);
  if (s.amr.includes("mfa") && !s.amr.includes("otp")) words.push("recovery code");
  return words.length === 0 ? "—" : words.join(" + ");
}

async function renderSessions(): Promise<void> {
  let sessions: Session[];
  try {
    ({ sessions } = await tessera.auth.listSessions({}));
  } catch (e) {
    return failed(e);
  }
  const error = h("div", { class: "error", role: "alert" });
  const revoke = async (s: Session) => {
    const ok = await confirmDialog({
      title: "Sign out this session?",
      body: `${s.userAgent || "This session"} is signed out.`,
      confirm: "Sign out",
      danger: true,
    });
    if (ok)
      await tessera.auth.revokeSession({ id: s.id }).then(
        () => renderSessions(),
        (e: unknown) => failed(e, error),
      );
  };
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h("h1", {}, "Sessions"),
      h(
        "table",
        { "data-testid": "sessions-table" },
        h("thead", {}, h("tr", {}, ...["Device", "Signed in with", "Started", "Last used", ""].map((t) => h("th", {}, t)))),
        h(
          "tbody",
          {},
          ...sessions.map((s) =>
            h(
              "tr",
              { "data-session-id": s.id, "data-amr": s.amr.join(" "), "data-assurance-level": s.assuranceLevel },
              h(
                "td",
                {},
                s.userAgent || "—",
                s.clientIp ? h("div", { class: "muted small" }, s.clientIp) : null,
                s.current && h("span", { class: "badge" }, "this one"),
              ),
              h(
                "td",
                {},
                signedInWith(s),
                " ",
                s.assuranceLevel >= 2 && h("span", { class: "badge", title: "passed a second factor", "data-testid": "mfa-badge" }, "2FA"),
              ),
              h("td", {}, fmt(s.createdAt)),
              h("td", {}, fmt(s.lastUsedAt)),
              h("td", { class: "actions-cell" }, !s.current && h("button", { type: "button", class: "danger", onclick: () => void revoke(s) }, "Sign out")),
            ),
          ),
        ),
      ),
      error,
    ),
  );
}
