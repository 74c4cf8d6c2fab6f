/**
 * The few GitHub requests a login makes (GitHub's OAuth web application flow and REST
 * API): the code exchanged at `<web>/login/oauth/access_token` (asking for JSON; GitHub
 * answers errors with HTTP 200 and an `error` field), then `GET <api>/user` and
 * `GET <api>/user/emails` with the user's token. Redirects are never followed; answers
 * are read up to 1 MiB.
 */
import type { GithubConfig } from "../../config/config.js";
import { fetchProviderUrl } from "../oidc/fetch.js";

/** Largest answer read from GitHub. */
const MAX_BODY_BYTES = 1024 * 1024;
const TIMEOUT_MS = 10_000;

/** A GitHub request failed in a way the caller maps (unavailable, or refused with a reason). */
export class GithubError extends Error {
  constructor(
    readonly kind: "unavailable" | "refused",
    readonly reason: string,
  ) {
    super(`GitHub ${kind}: ${reason}`);
    this.name = "GithubError";
  }
}

/** One entry of `GET /user/emails`. */
export interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/** What Tessera reads of `GET /user`. */
export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  avatarUrl: string | null;
}

async function readJson(res: Response): Promise<unknown> {
  const reader = res.body?.getReader();
  if (!reader) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new GithubError("refused", "answer_too_large");
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new GithubError("refused", "not_json");
  }
}

async function request(url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetchProviderUrl(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw new GithubError("unavailable", (e as Error).message.slice(0, 200));
  }
  if (res.status >= 500) {
    await res.body?.cancel().catch(() => {});
    throw new GithubError("unavailable", `http_${res.status}`);
  }
  try {
    return { status: res.status, body: await readJson(res) };
  } catch (e) {
    if (e instanceof GithubError) throw e;
    // The body stopped arriving (the timeout fired mid-read, the connection dropped).
    throw new GithubError("unavailable", (e as Error).message.slice(0, 200));
  }
}

/** The GitHub client of one configured provider. */
export function createGithubApi(config: GithubConfig) {
  const apiHeaders = (token: string) => ({
    accept: "application/vnd.github+json",
    authorization: `Bearer ${token}`,
    "x-github-api-version": "2022-11-28",
    "user-agent": "tessera",
  });
  return {
    /** Exchanges the code for a user access token. */
    async exchangeCode(code: string, redirectUri: string, codeVerifier: string): Promise<string> {
      const form = new URLSearchParams({
        client_id: config.clientId,
        client_secret: config.clientSecret,
        code,
        redirect_uri: redirectUri,
        code_verifier: codeVerifier,
      });
      const { status, body } = await request(`${config.webUrl}/login/oauth/access_token`, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded", "user-agent": "tessera" },
        body: form,
      });
      const o = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (typeof o.error === "string") throw new GithubError("refused", o.error.slice(0, 64));
      if (status !== 200 || typeof o.access_token !== "string" || o.access_token === "") throw new GithubError("refused", `no_access_token_http_${status}`);
      return o.access_token;
    },
    /** `GET /user`. */
    async user(token: string): Promise<GithubUser> {
      const { status, body } = await request(`${config.apiUrl}/user`, { headers: apiHeaders(token) });
      const o = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
      if (status !== 200 || typeof o.id !== "number" || !Number.isSafeInteger(o.id) || typeof o.login !== "string") {
        throw new GithubError("refused", `user_http_${status}`);
      }
      return {
        id: o.id,
        login: o.login.slice(0, 100),
        name: typeof o.name === "string" && o.name.trim() !== "" ? o.name.trim().slice(0, 256) : null,
        avatarUrl: typeof o.avatar_url === "string" && /^https?:\/\//i.test(o.avatar_url) ? o.avatar_url.slice(0, 2048) : null,
      };
    },
    /** `GET /user/emails` (the first 100: the primary one is among them). */
    async emails(token: string): Promise<GithubEmail[]> {
      const { status, body } = await request(`${config.apiUrl}/user/emails?per_page=100`, { headers: apiHeaders(token) });
      if (status !== 200 || !Array.isArray(body)) throw new GithubError("refused", `emails_http_${status}`);
      return body
        .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
        .filter((e) => typeof e.email === "string" && e.email.length <= 320)
        .map((e) => ({ email: String(e.email), primary: e.primary === true, verified: e.verified === true }));
    },
  };
}
