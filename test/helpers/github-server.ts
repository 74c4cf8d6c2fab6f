/**
 * A local GitHub-shaped server, written from GitHub's documentation of the OAuth web
 * application flow and the REST API, mounted as GitHub Enterprise Server mounts it
 * (web at `/`, REST at `/api/v3`):
 * - `GET /login/oauth/authorize?client_id&redirect_uri&scope&state[&code_challenge&code_challenge_method=S256][&login]`
 *   signs in the user named by `login` (or the default login: a headless stand-in for GitHub's page) and redirects
 *   to `redirect_uri?code=...&state=...`; codes live 10 minutes and work once;
 * - `POST /login/oauth/access_token` (client_id, client_secret, code, redirect_uri,
 *   code_verifier; form or JSON body) answers JSON with `Accept: application/json`, else
 *   `access_token=...&scope=...&token_type=bearer`; a bad code answers HTTP 200 with
 *   `error: "bad_verification_code"`, as GitHub does;
 * - `GET /api/v3/user` and `GET /api/v3/user/emails` (`Authorization: Bearer` or
 *   `token`): the user, and its emails as `{email, primary, verified, visibility}`;
 *   401 `{"message": "Bad credentials"}` otherwise.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export const GITHUB_CLIENT_ID = "Ov23liTesseraTest";
export const GITHUB_CLIENT_SECRET = "github-test-secret-0123456789";

/** One email of a GitHub user. */
interface GithubTestEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/** A GitHub user of the test server. */
interface GithubTestUser {
  id: number;
  login: string;
  name: string | null;
  emails: GithubTestEmail[];
}

export interface GithubTestServer {
  /** The web URL (AUTH_GITHUB_URL); the REST API is at `<url>/api/v3`. */
  url: string;
  /** Adds (or replaces) a user. */
  addUser(user: GithubTestUser): void;
  /** Who a browser without a `login` parameter signs in as (a person at GitHub's page, headless). */
  setDefaultLogin(login: string): void;
  /** Follows an authorization URL headlessly as `login`; returns the callback URL's parameters. */
  authorize(url: string, login: string): Promise<{ code: string; state: string | null; callback: URL }>;
  /** Requests per path. */
  requests(path: string): number;
  close(): Promise<void>;
}

interface PendingCode {
  login: string;
  redirectUri: string;
  challenge: string | null;
  clientId: string;
  expires: number;
}

function send(res: http.ServerResponse, status: number, body: unknown, type = "application/json; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, string>> {
  let raw = "";
  for await (const chunk of req) raw += String(chunk);
  if ((req.headers["content-type"] ?? "").includes("application/json")) return JSON.parse(raw || "{}") as Record<string, string>;
  return Object.fromEntries(new URLSearchParams(raw));
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startGithubServer(): Promise<GithubTestServer> {
  const users = new Map<string, GithubTestUser>();
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, string>();
  const counts = new Map<string, number>();
  let defaultLogin = "";

  function userOf(req: http.IncomingMessage): GithubTestUser | undefined {
    const m = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? "");
    const login = m ? tokens.get(m[1]!) : undefined;
    return login ? users.get(login) : undefined;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const q = url.searchParams;
      const redirectUri = q.get("redirect_uri") ?? "";
      const login = q.get("login") ?? defaultLogin;
      if (q.get("client_id") !== GITHUB_CLIENT_ID || !users.has(login) || redirectUri === "") return send(res, 404, "Not Found", "text/plain");
      if (q.get("code_challenge") && q.get("code_challenge_method") !== "S256") return send(res, 400, "bad code_challenge_method", "text/plain");
      const code = randomBytes(10).toString("hex");
      codes.set(code, { login, redirectUri, challenge: q.get("code_challenge"), clientId: GITHUB_CLIENT_ID, expires: Date.now() + 600_000 });
      const back = new URL(redirectUri);
      back.searchParams.set("code", code);
      if (q.get("state") !== null) back.searchParams.set("state", q.get("state")!);
      res.writeHead(302, { location: back.toString() });
      return void res.end();
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      const body = await readBody(req);
      const json = (req.headers.accept ?? "").includes("application/json");
      const answer = (o: Record<string, string>) =>
        json ? send(res, 200, o) : send(res, 200, new URLSearchParams(o).toString(), "application/x-www-form-urlencoded");
      if (body.client_id !== GITHUB_CLIENT_ID || body.client_secret !== GITHUB_CLIENT_SECRET) {
        return answer({ error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." });
      }
      const pending = codes.get(body.code ?? "");
      codes.delete(body.code ?? "");
      const verifierOk =
        pending?.challenge == null ||
        (body.code_verifier !== undefined && createHash("sha256").update(body.code_verifier).digest("base64url") === pending.challenge);
      if (!pending || pending.expires < Date.now() || (body.redirect_uri !== undefined && body.redirect_uri !== pending.redirectUri) || !verifierOk) {
        return answer({ error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
      }
      const token = `gho_${randomBytes(18).toString("base64url")}`;
      tokens.set(token, pending.login);
      return answer({ access_token: token, token_type: "bearer", scope: "read:user,user:email" });
    }
    if (req.method === "GET" && (url.pathname === "/api/v3/user" || url.pathname === "/api/v3/user/emails")) {
      const user = userOf(req);
      if (!user) return send(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
      if (url.pathname === "/api/v3/user") {
        const publicEmail = user.emails.find((e) => e.primary)?.email ?? null;
        return send(res, 200, {
          login: user.login,
          id: user.id,
          node_id: `U_${user.id}`,
          avatar_url: `https://avatars.example.test/u/${user.id}`,
          type: "User",
          name: user.name,
          email: publicEmail,
        });
      }
      return send(
        res,
        200,
        user.emails.map((e) => ({ ...e, visibility: e.primary ? "private" : null })),
      );
    }
    send(res, 404, { message: "Not Found" });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: Error) => send(res, 500, { message: e.message }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    addUser: (u) => void users.set(u.login, u),
    setDefaultLogin: (login) => {
      defaultLogin = login;
    },
    async authorize(authorizeUrl, login) {
      const u = new URL(authorizeUrl);
      u.searchParams.set("login", login);
      const res = await fetch(u, { redirect: "manual" });
      const location = res.headers.get("location");
      await res.body?.cancel().catch(() => {});
      if (res.status !== 302 || !location) throw new Error(`GitHub test server refused the authorization: HTTP ${res.status}`);
      const callback = new URL(location);
      const code = callback.searchParams.get("code");
      if (!code) throw new Error("no code in the callback");
      return { code, state: callback.searchParams.get("state"), callback };
    },
    requests: (p) => counts.get(p) ?? 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
