/**
 * `tessera login` through the OpenID provider: authorization code with PKCE (S256)
 * and a loopback callback server (RFC 8252) on LOGIN_HOST:LOGIN_PORT. Tessera's
 * GetAuthorizeUrl/ExchangeCode keep the client secret on the server; the CLI only
 * holds the PKCE verifier and the state, and checks the state on the callback. It
 * prints and opens only `https:` authorization URLs, or `http:` ones on this machine
 * (`openableAuthorizeUrl`): never a `javascript:`, `file:` or remote `http:` URL.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { MfaRequiredError, tokensFromSignIn, type Tokens } from "@tessera/sdk";
import { CliError, UsageError } from "./errors.js";
import { note } from "./output.js";
import type { Session } from "./session.js";

/** How long `tessera login` waits for the browser. */
const LOGIN_TIMEOUT_MS = 5 * 60 * 1000;
/** The path of the loopback redirect URI. */
const CALLBACK_PATH = "/callback";

const PAGE_STYLE = "font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;line-height:1.5";

function page(res: http.ServerResponse, status: number, title: string, text: string): void {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title><body style="${PAGE_STYLE}"><h1>${esc(title)}</h1><p>${esc(text)}</p>`;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(body);
}

const LOOPBACK_HOSTNAMES = new Set(["localhost", "[::1]"]);

/**
 * The authorization URL the server returned, if the CLI may print and open it: `https:`,
 * or `http:` on a loopback host (127.0.0.0/8, [::1], localhost: a provider on this
 * machine), without user name or password. Otherwise a CliError saying why; the URL
 * never reaches the browser opener.
 */
function openableAuthorizeUrl(raw: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  const loopback = (h: string) => LOOPBACK_HOSTNAMES.has(h) || /^127(\.\d{1,3}){3}$/.test(h);
  const ok = u !== undefined && (u.protocol === "https:" || (u.protocol === "http:" && loopback(u.hostname))) && u.username === "" && u.password === "";
  if (u && ok) return u;
  const what =
    u === undefined
      ? "not a URL"
      : u.username !== "" || u.password !== ""
        ? "a URL with a user name or password"
        : `${u.protocol} URL${u.host ? ` for ${u.host.slice(0, 64)}` : ""}`;
  throw new CliError(
    `refusing to open the authorization URL the server returned (${JSON.stringify(what).slice(1, -1)}): tessera login opens only https: URLs, or http: URLs on this machine; check that TESSERA_API_URL is your Tessera server`,
  );
}

/** Tries to open the URL in a browser; failures are ignored (the URL is printed anyway). */
function openBrowser(url: string): void {
  const cmd = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  try {
    const child = spawn(cmd, [url], { stdio: "ignore", detached: true });
    child.on("error", () => {});
    child.unref();
  } catch {
    // no browser opener here: the printed URL is enough
  }
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") reject(new CliError(`cannot listen on ${host}:${port} for the login callback (in use): set LOGIN_PORT to a free port`));
      else reject(new CliError(`cannot listen on ${host}:${port} for the login callback (${e.message}): set LOGIN_HOST/LOGIN_PORT`));
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Runs the browser login; resolves with the tokens (not yet stored), or rejects with
 * `MfaRequiredError` when the server asks for the second factor (the caller asks for it).
 */
export async function browserLogin(s: Session, opts: { openBrowser: boolean; providerId?: string }): Promise<Tokens> {
  const { loginHost, loginPort } = s.config;
  if (!["127.0.0.1", "::1", "localhost"].includes(loginHost)) {
    throw new UsageError(`LOGIN_HOST must be a loopback address (127.0.0.1 or ::1), not ${JSON.stringify(loginHost.slice(0, 64))}`);
  }
  const state = randomBytes(32).toString("base64url");
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");

  let settle!: { resolve: (t: Tokens) => void; reject: (e: unknown) => void };
  const result = new Promise<Tokens>((resolve, reject) => (settle = { resolve, reject }));
  let redirectUri = "";
  let busy = false;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://loopback");
    if (req.method !== "GET" || url.pathname !== CALLBACK_PATH) return page(res, 404, "Not found", "This is the tessera CLI's login callback.");
    if (url.searchParams.get("state") !== state || busy) {
      // Not our login (or a repeated callback): ignore it and keep waiting.
      return page(res, 400, "Unknown login", "This callback does not belong to the running `tessera login`.");
    }
    const error = url.searchParams.get("error");
    if (error) {
      const desc = (url.searchParams.get("error_description") ?? "").replace(/\s+/g, " ").slice(0, 200);
      res.once("finish", () =>
        settle.reject(new CliError(`the provider refused the login (${error.slice(0, 64)}${desc ? `: ${desc}` : ""}): run \`tessera login\` again`)),
      );
      return page(res, 400, "Login failed", `The provider answered ${error}. Return to the terminal.`);
    }
    const code = url.searchParams.get("code");
    if (!code) return page(res, 400, "Login failed", "The callback carried no code.");
    busy = true;
    s.client.auth
      .exchangeCode({ code, redirectUri, codeVerifier: verifier, state, iss: url.searchParams.get("iss") ?? "" })
      .catch((e: unknown) => {
        const ce = ConnectError.from(e);
        if (ce.code === Code.Unauthenticated || ce.code === Code.InvalidArgument)
          throw new CliError(`login failed (${ce.rawMessage}): run \`tessera login\` again`);
        return s.call(Promise.reject(e));
      })
      .then((r) => {
        if (!r.tokens && !r.mfaChallenge) throw new CliError("ExchangeCode answered without tokens: run `tessera login` again");
        let tokens: Tokens;
        try {
          tokens = tokensFromSignIn(r);
        } catch (challenged) {
          if (!(challenged instanceof MfaRequiredError)) throw challenged;
          // The second factor is asked in the terminal: the challenge goes back to the login.
          res.once("finish", () => settle.reject(challenged));
          return page(res, 200, "One more step", "Return to the terminal and enter the code of your authenticator app.");
        }
        // Settle once the page is handed to the OS: the server closes right after.
        res.once("finish", () => settle.resolve(tokens));
        page(res, 200, "Signed in to Tessera", "You can close this tab and return to the terminal.");
      })
      .catch((e: unknown) => {
        res.once("finish", () => settle.reject(e));
        page(res, 400, "Login failed", "Tessera could not complete the login. Return to the terminal.");
      });
  });
  server.keepAliveTimeout = 1000;

  const port = await listen(server, loginHost, loginPort);
  const hostPart = loginHost.includes(":") ? `[${loginHost}]` : loginHost;
  redirectUri = `http://${hostPart}:${port}${CALLBACK_PATH}`;
  const timer = setTimeout(() => settle.reject(new CliError("login timed out after 5 minutes: run `tessera login` again")), LOGIN_TIMEOUT_MS);
  try {
    const answer = await s.call(s.client.auth.getAuthorizeUrl({ redirectUri, state, codeChallenge: challenge, providerId: opts.providerId ?? "" }));
    // Checked before it is printed or opened; the canonical form goes on (controls percent-encoded).
    const url = openableAuthorizeUrl(answer.url).href;
    note("Open this URL in your browser to sign in (waiting up to 5 minutes):");
    note("");
    note(`  ${url}`);
    note("");
    if (opts.openBrowser) openBrowser(url);
    return await result;
  } catch (e) {
    if (e instanceof CliError && /redirect_uri is not allowed/.test(e.message)) {
      throw new CliError(
        `the server does not allow the redirect URI ${redirectUri}: add http://${hostPart}${CALLBACK_PATH} to the server's AUTH_ALLOWED_REDIRECT_URIS (the port may vary), or use \`tessera login --password\``,
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  }
}
