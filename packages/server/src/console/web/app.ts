/**
 * The Tessera console (served at /console): sign in with a password or the OpenID
 * provider, pick an account, manage its API keys, members and invites. Plain
 * TypeScript + DOM over the SDK with gRPC-web. Tokens live in sessionStorage: they
 * survive a reload and the OpenID redirect within the tab, are not shared with other
 * tabs, and are gone when the tab closes.
 */
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { type AccountApiKey, type GetAuthConfigResponse, AccountRole, AccountType, type UserAccount } from "@tessera/sdk/proto";
import { AuthMode, Code, ConnectError, createLocalStorageTokenStore, createTesseraClient, tokensFromMessage } from "@tessera/sdk";
import { append, byId, h, replace } from "./dom.js";

const TOKENS_KEY = "tessera.console.tokens";
const LOGIN_KEY = "tessera.console.login";
const ACCOUNT_KEY = "tessera.console.account";
const CALLBACK_PATH = "/console/callback";
const DAY_MS = 86_400_000;
const MAX_KEY_DAYS = 365;

const tokenStore = createLocalStorageTokenStore(TOKENS_KEY, sessionStorage);
const tessera = createTesseraClient({ baseUrl: location.origin, protocol: "grpc-web", tokenStore });

let authConfig: GetAuthConfigResponse | undefined;
let me: { userId: string; email: string; name: string } | undefined;
let accounts: UserAccount[] = [];
let account: UserAccount | undefined;

const view = () => byId("view");
const dialog = () => byId<HTMLDialogElement>("dialog");

// ---------- helpers ----------

function message(e: unknown): string {
  return ConnectError.from(e).rawMessage;
}

function fmt(t: Timestamp | undefined): string {
  if (!t) return "—";
  return timestampDate(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function roleName(r: AccountRole): string {
  return r === AccountRole.ADMIN ? "admin" : r === AccountRole.MEMBER ? "member" : r === AccountRole.VIEWER ? "viewer" : "—";
}

function showBanner(text: string, kind: "error" | "info" = "error"): void {
  const b = byId("banner");
  b.className = kind === "info" ? "banner info" : "banner";
  b.textContent = text;
  b.hidden = text === "";
}

/** Handles a failed call: an ended session goes back to sign-in, anything else is shown. */
async function failed(e: unknown, where?: HTMLElement): Promise<void> {
  const ce = ConnectError.from(e);
  if (ce.code === Code.Unauthenticated && authConfig?.mode !== AuthMode.NONE) {
    await tokenStore.clear();
    closeDialog();
    renderSignIn("Your session has ended. Sign in again.");
    return;
  }
  if (where) where.textContent = ce.rawMessage;
  else showBanner(ce.rawMessage);
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

// ---------- dialogs ----------

function openDialog(...content: HTMLElement[]): void {
  const d = dialog();
  replace(d, ...content);
  if (!d.open) d.showModal();
  const first = d.querySelector<HTMLElement>("input:not([readonly]), button.primary, button.danger");
  first?.focus();
}

function closeDialog(): void {
  const d = dialog();
  if (d.open) d.close();
  d.replaceChildren();
}

/** A confirmation dialog; resolves true when confirmed. */
function confirmDialog(opts: { title: string; body: string; confirm: string; danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (v: boolean) => {
      dialog().removeEventListener("close", onClose);
      closeDialog();
      resolve(v);
    };
    const onClose = () => done(false);
    openDialog(
      h(
        "div",
        { "data-testid": "confirm-dialog" },
        h("h2", {}, opts.title),
        h("p", {}, opts.body),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
          h("button", { type: "button", class: opts.danger ? "danger solid" : "primary", "data-testid": "confirm", onclick: () => done(true) }, opts.confirm),
        ),
      ),
    );
    dialog().addEventListener("close", onClose);
  });
}

/** Shows a secret once, with a copy button and the warning that it cannot be shown again. */
function showSecret(opts: { title: string; value: string; explain: string; onDone: () => void }): void {
  const input = h("input", { id: "new-key-value", "data-testid": "new-key-value", readonly: true, value: opts.value, "aria-label": "secret value" });
  const copy = h("button", {
    type: "button",
    class: "primary",
    "data-testid": "copy",
    onclick: () => {
      const ok = () => (copy.textContent = "Copied");
      navigator.clipboard?.writeText(opts.value).then(ok, () => {
        input.select();
        if (document.execCommand("copy")) ok();
      }) ??
        (input.select(), document.execCommand("copy") && ok());
    },
  }, "Copy");
  openDialog(
    h(
      "div",
      { "data-testid": "secret-dialog" },
      h("h2", {}, opts.title),
      h("p", {}, opts.explain),
      h("div", { class: "secret" }, input, copy),
      h("div", { class: "warning", role: "note" }, h("strong", {}, "Copy it now. "), "It cannot be shown again: Tessera keeps only its hash."),
      h("div", { class: "actions" }, h("button", { type: "button", "data-testid": "done", onclick: () => (closeDialog(), opts.onDone()) }, "Done")),
    ),
  );
  input.select();
}

/** An expiry picker: presets up to a year, or a date. */
function expiryPicker(): { el: HTMLElement; value(): Date } {
  const presets: Array<[string, number]> = [
    ["7 days", 7],
    ["30 days", 30],
    ["90 days", 90],
    ["180 days", 180],
    ["1 year (365 days)", 365],
  ];
  const select = h("select", { id: "key-expiry", name: "expiry" }, ...presets.map(([label, d]) => h("option", { value: String(d) }, label)), h("option", { value: "custom" }, "Custom date…"));
  select.value = "30";
  const day = (d: number) => new Date(Date.now() + d * DAY_MS).toISOString().slice(0, 10);
  const date = h("input", { type: "date", id: "key-expiry-date", min: day(1), max: day(MAX_KEY_DAYS - 1), value: day(30), hidden: true, "aria-label": "expiry date" });
  select.addEventListener("change", () => (date.hidden = select.value !== "custom"));
  return {
    el: h("div", { class: "stack" }, select, date),
    value() {
      if (select.value !== "custom") return new Date(Date.now() + Number(select.value) * DAY_MS);
      const at = new Date(`${date.value}T23:59:59`);
      if (Number.isNaN(at.getTime())) throw new Error("Pick an expiry date.");
      if (at.getTime() <= Date.now()) throw new Error("The expiry must be in the future.");
      if (at.getTime() > Date.now() + MAX_KEY_DAYS * DAY_MS) throw new Error("API keys expire within 365 days.");
      return at;
    },
  };
}

// ---------- sign-in ----------

function renderSignIn(notice?: string): void {
  me = undefined;
  account = undefined;
  byId("nav").hidden = true;
  replace(byId("session"));
  showBanner("");
  const cfg = authConfig!;
  const card = h("div", { class: "card signin" }, h("h1", {}, "Sign in to Tessera"));
  if (notice) append(card, h("div", { class: "banner info" }, notice));
  const error = h("div", { class: "error", role: "alert", "data-testid": "signin-error" });
  if (cfg.passwordLoginEnabled) {
    const email = h("input", { id: "email", name: "email", type: "email", required: true, autocomplete: "username" });
    const password = h("input", { id: "password", name: "password", type: "password", required: true, autocomplete: "current-password", minlength: 12 });
    const submit = async (signUp: boolean) => {
      error.textContent = "";
      if (!email.reportValidity() || !password.reportValidity()) return;
      try {
        if (signUp) await tessera.signUp(email.value, password.value);
        else await tessera.signIn(email.value, password.value);
        await enter();
      } catch (e) {
        error.textContent = message(e);
      }
    };
    append(
      card,
      h(
        "form",
        {
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            void submit(false);
          },
        },
        h("label", { for: "email" }, "Email"),
        email,
        h("label", { for: "password" }, "Password"),
        password,
        h(
          "div",
          { class: "actions" },
          cfg.signupEnabled && h("button", { type: "button", onclick: () => void submit(true) }, "Create account"),
          h("button", { type: "submit", class: "primary" }, "Sign in"),
        ),
      ),
    );
  }
  if (cfg.oidcProviders.length > 0) {
    if (cfg.passwordLoginEnabled) append(card, h("div", { class: "divider" }, "or"));
    for (const p of cfg.oidcProviders) {
      append(
        card,
        h(
          "button",
          {
            type: "button",
            class: "provider",
            onclick: () =>
              startProviderLogin(p.id).catch((e: unknown) => {
                const m = message(e);
                error.textContent = /redirect_uri is not allowed/.test(m)
                  ? `This server does not allow ${location.origin}${CALLBACK_PATH} as a redirect URI: add it to AUTH_ALLOWED_REDIRECT_URIS.`
                  : m;
              }),
          },
          `Sign in with ${p.name || "your identity provider"}`,
        ),
      );
    }
  }
  if (!cfg.passwordLoginEnabled && cfg.oidcProviders.length === 0) append(card, h("p", { class: "muted" }, "No sign-in method is enabled on this server."));
  append(card, error);
  replace(view(), card);
  card.querySelector<HTMLInputElement>("input")?.focus();
}

/** Starts the OpenID login: PKCE verifier and state kept in this tab, then off to the provider. */
async function startProviderLogin(providerId: string): Promise<void> {
  if (!crypto.subtle) throw new Error("Signing in with the provider needs a secure page: open the console over HTTPS (or on localhost).");
  const state = randomString();
  const verifier = randomString();
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const redirectUri = `${location.origin}${CALLBACK_PATH}`;
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ state, verifier, redirectUri }));
  const { url } = await tessera.auth.getAuthorizeUrl({ redirectUri, state, codeChallenge: challenge, providerId });
  location.assign(url);
}

/** Completes the OpenID login on /console/callback; returns an error to show, if any. */
async function finishProviderLogin(): Promise<string | undefined> {
  const q = new URLSearchParams(location.search);
  history.replaceState(null, "", "/console/"); // the code leaves the address bar and history
  const raw = sessionStorage.getItem(LOGIN_KEY);
  sessionStorage.removeItem(LOGIN_KEY);
  const saved = raw ? (JSON.parse(raw) as { state: string; verifier: string; redirectUri: string }) : undefined;
  if (q.get("error")) return `The identity provider did not sign you in (${q.get("error")}).`;
  const code = q.get("code");
  if (!saved || !code || q.get("state") !== saved.state) return "This sign-in was not started in this tab. Start again.";
  try {
    const res = await tessera.auth.exchangeCode({ code, redirectUri: saved.redirectUri, codeVerifier: saved.verifier, state: saved.state, iss: q.get("iss") ?? "" });
    if (!res.tokens) return "The server answered without tokens.";
    await tessera.setTokens(tokensFromMessage(res.tokens));
    return undefined;
  } catch (e) {
    return message(e);
  }
}

// ---------- signed in ----------

async function loadAccounts(): Promise<void> {
  accounts = (await tessera.userAccounts.getUserAccounts({})).accounts;
  if (accounts.length === 0) {
    await tessera.userAccounts.setPersonalAccount({});
    accounts = (await tessera.userAccounts.getUserAccounts({})).accounts;
  }
  const wanted = sessionStorage.getItem(ACCOUNT_KEY);
  account = accounts.find((a) => a.id === wanted) ?? accounts.find((a) => a.type === AccountType.PERSONAL) ?? accounts[0];
}

function useAccount(id: string): void {
  account = accounts.find((a) => a.id === id) ?? account;
  if (account) sessionStorage.setItem(ACCOUNT_KEY, account.id);
  renderSession();
  void route();
}

async function enter(): Promise<void> {
  try {
    const u = await tessera.userAccounts.getUser({});
    me = { userId: u.userId, email: u.email, name: u.name };
    await loadAccounts();
  } catch (e) {
    await failed(e);
    return;
  }
  showBanner(authConfig?.mode === AuthMode.NONE ? "This server runs with AUTH_MODE=none: everyone is the anonymous admin." : "", "info");
  renderSession();
  if (!location.hash) history.replaceState(null, "", "#/keys");
  await route();
}

function renderSession(): void {
  const select = h(
    "select",
    { id: "account", "aria-label": "account", onchange: (ev: Event) => useAccount((ev.target as HTMLSelectElement).value) },
    ...accounts.map((a) => h("option", { value: a.id }, a.type === AccountType.PERSONAL && a.name.toLowerCase() !== "personal" ? `${a.name} (personal)` : a.name)),
  );
  if (account) select.value = account.id;
  const signOut =
    authConfig?.mode !== AuthMode.NONE &&
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: async () => {
          await tessera.signOut().catch(() => {});
          sessionStorage.removeItem(ACCOUNT_KEY);
          history.replaceState(null, "", "/console/");
          renderSignIn("You are signed out.");
        },
      },
      "Sign out",
    );
  replace(byId("session"), select, h("span", { class: "who" }, me?.email || me?.name || "anonymous"), signOut);
  const nav = byId("nav");
  nav.hidden = false;
  const page = currentPage();
  replace(
    nav,
    h("a", { href: "#/keys", class: page === "keys" ? "active" : undefined }, "API keys"),
    h("a", { href: "#/members", class: page === "members" ? "active" : undefined }, "Members"),
  );
}

function currentPage(): "keys" | "members" {
  return location.hash === "#/members" ? "members" : "keys";
}

async function route(): Promise<void> {
  if (!account) return;
  renderSession();
  replace(view(), h("p", { class: "muted" }, "Loading…"));
  if (currentPage() === "members") await membersPage(account);
  else await keysPage(account);
}

// ---------- API keys ----------

async function keysPage(acc: UserAccount): Promise<void> {
  const canWrite = acc.role === AccountRole.ADMIN || acc.role === AccountRole.MEMBER;
  let keys: AccountApiKey[];
  try {
    keys = (await tessera.apiKeys.getAccountApiKeys({ accountId: acc.id })).apiKeys;
  } catch (e) {
    return failed(e);
  }
  const reload = () => void keysPage(acc);
  const table =
    keys.length === 0
      ? h("div", { class: "empty" }, "No API keys yet. Create one for a script, worker or CI job.")
      : h(
          "table",
          { "data-testid": "keys-table" },
          h("thead", {}, h("tr", {}, ...["Name", "Key", "Created", "Expires", "Last used", ""].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            ...keys.map((k) =>
              h(
                "tr",
                { "data-key-id": k.id, "data-key-name": k.name },
                h("td", {}, k.name),
                h("td", {}, h("code", {}, `${k.start}…`)),
                h("td", {}, fmt(k.createdAt)),
                h("td", {}, fmt(k.expiresAt)),
                h("td", {}, k.lastUsedAt ? fmt(k.lastUsedAt) : "never"),
                h(
                  "td",
                  { class: "actions-cell" },
                  h("button", { type: "button", disabled: !canWrite, onclick: () => regenerateDialog(k, reload) }, "Regenerate"),
                  h("button", { type: "button", class: "danger", disabled: !canWrite, onclick: () => void deleteKey(k, reload) }, "Delete"),
                ),
              ),
            ),
          ),
        );
  replace(
    view(),
    h(
      "div",
      { class: "card" },
      h(
        "div",
        { class: "row" },
        h("div", {}, h("h1", {}, "API keys"), h("div", { class: "muted small" }, `Account ${acc.name} · keys act as this account; each is shown once, when created.`)),
        h(
          "button",
          { type: "button", class: "primary", id: "new-key", disabled: !canWrite, title: canWrite ? undefined : "Viewers cannot create keys", onclick: () => newKeyDialog(acc, reload) },
          "+ New API Key",
        ),
      ),
      table,
    ),
  );
}

function newKeyDialog(acc: UserAccount, reload: () => void): void {
  const name = h("input", { id: "key-name", name: "name", required: true, maxlength: 100, autocomplete: "off", placeholder: "e.g. ci or billing-worker" });
  const expiry = expiryPicker();
  const error = h("div", { class: "error", role: "alert" });
  const create = h("button", { type: "submit", class: "primary", id: "create-key" }, "Create key");
  openDialog(
    h(
      "form",
      {
        "data-testid": "new-key-dialog",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.textContent = "";
          let expiresAt: Date;
          try {
            expiresAt = expiry.value();
          } catch (e) {
            error.textContent = (e as Error).message;
            return;
          }
          create.disabled = true;
          try {
            const res = await tessera.apiKeys.createAccountApiKey({ accountId: acc.id, name: name.value.trim(), expiresAt: timestampFromDate(expiresAt) });
            showSecret({
              title: `API key "${res.apiKey?.name}" created`,
              value: res.keyValue,
              explain: `Send it as "Authorization: Bearer <key>". It expires ${fmt(res.apiKey?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            create.disabled = false;
            await failed(e, error);
          }
        },
      },
      h("h2", {}, "New API key"),
      h("p", { class: "muted small" }, `For account ${acc.name}.`),
      h("label", { for: "key-name" }, "Name"),
      name,
      h("label", { for: "key-expiry" }, "Expires in"),
      expiry.el,
      error,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: closeDialog }, "Cancel"), create),
    ),
  );
}

function regenerateDialog(k: AccountApiKey, reload: () => void): void {
  const expiry = expiryPicker();
  const error = h("div", { class: "error", role: "alert" });
  openDialog(
    h(
      "form",
      {
        "data-testid": "regenerate-dialog",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          error.textContent = "";
          try {
            const res = await tessera.apiKeys.regenerateAccountApiKey({ id: k.id, expiresAt: timestampFromDate(expiry.value()) });
            showSecret({
              title: `API key "${k.name}" regenerated`,
              value: res.keyValue,
              explain: `The previous value no longer works. The new one expires ${fmt(res.apiKey?.expiresAt)}.`,
              onDone: reload,
            });
          } catch (e) {
            if (e instanceof ConnectError) await failed(e, error);
            else error.textContent = (e as Error).message;
          }
        },
      },
      h("h2", {}, `Regenerate "${k.name}"?`),
      h("p", {}, "The key gets a new value; the current value stops working immediately."),
      h("label", { for: "key-expiry" }, "New expiry"),
      expiry.el,
      error,
      h("div", { class: "actions" }, h("button", { type: "button", onclick: closeDialog }, "Cancel"), h("button", { type: "submit", class: "danger solid" }, "Regenerate")),
    ),
  );
}

async function deleteKey(k: AccountApiKey, reload: () => void): Promise<void> {
  const ok = await confirmDialog({
    title: `Delete API key "${k.name}"?`,
    body: "Anything using this key stops working immediately. This cannot be undone.",
    confirm: "Delete key",
    danger: true,
  });
  if (!ok) return;
  try {
    await tessera.apiKeys.deleteAccountApiKey({ id: k.id });
    showBanner("");
    reload();
  } catch (e) {
    await failed(e);
  }
}

// ---------- members and invites ----------

async function membersPage(acc: UserAccount): Promise<void> {
  if (acc.type === AccountType.PERSONAL) {
    replace(view(), personalMembersCard(acc), joinCard());
    return;
  }
  const isAdmin = acc.role === AccountRole.ADMIN;
  const reload = () => void membersPage(acc);
  let users;
  let invites;
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
            h("td", {}, u.name || "—", u.id === me?.userId ? " (you)" : ""),
            h("td", {}, u.email || "—"),
            h("td", {}, h("span", { class: "badge" }, roleName(u.role))),
            h(
              "td",
              { class: "actions-cell" },
              isAdmin &&
                u.id !== me?.userId &&
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    onclick: async () => {
                      const ok = await confirmDialog({ title: `Remove ${u.email || u.name || u.id}?`, body: `They lose access to ${acc.name} at once.`, confirm: "Remove", danger: true });
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

function invitesCard(acc: UserAccount, invites: Awaited<ReturnType<typeof tessera.userAccounts.getTeamAccountInvites>>["invites"], reload: () => void): HTMLElement {
  const email = h("input", { id: "invite-email", type: "email", required: true, placeholder: "name@example.com", "aria-label": "email to invite" });
  const role = h("select", { id: "invite-role", "aria-label": "role" }, h("option", { value: String(AccountRole.MEMBER) }, "member"), h("option", { value: String(AccountRole.ADMIN) }, "admin"), h("option", { value: String(AccountRole.VIEWER) }, "viewer"));
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
            const res = await tessera.userAccounts.inviteUserToTeamAccount({ accountId: acc.id, email: email.value.trim(), role: Number(role.value) as AccountRole });
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
    invites.length === 0
      ? h("p", { class: "muted small" }, "No open invites.")
      : h(
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
                        const ok = await confirmDialog({ title: `Withdraw the invite for ${i.email}?`, body: "The invite token stops working.", confirm: "Withdraw", danger: true });
                        if (ok) await tessera.userAccounts.removeTeamAccountInvite({ id: i.id }).then(reload, (e: unknown) => failed(e));
                      },
                    },
                    "Withdraw",
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}

function personalMembersCard(acc: UserAccount): HTMLElement {
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
            if (res.account) useAccount(res.account.id);
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

function joinCard(): HTMLElement {
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
            if (res.account) useAccount(res.account.id);
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

// ---------- start ----------

async function boot(): Promise<void> {
  try {
    authConfig = await tessera.auth.getAuthConfig({});
  } catch (e) {
    replace(view(), h("div", { class: "card" }, h("h1", {}, "Tessera is not reachable"), h("p", {}, message(e))));
    return;
  }
  if (location.pathname === CALLBACK_PATH) {
    const err = await finishProviderLogin();
    if (err) return renderSignIn(err);
  }
  if (authConfig.mode === AuthMode.NONE || (await tessera.getTokens())) return enter();
  renderSignIn();
}

window.addEventListener("hashchange", () => void route());
void boot();
