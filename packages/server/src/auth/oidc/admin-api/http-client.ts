/**
 * The shared machinery of the admin API clients: a client-credentials token cached
 * until shortly before it expires (one request in flight at a time), a small bounded
 * cache of user lookups, and a retry with a fresh token after a 401. Redirects are never
 * followed (the client secret and the admin token go nowhere else).
 */
import { fetchProviderUrl } from "../fetch.js";
import type { AdminApiClient, AdminApiClientOptions, AdminUser } from "./types.js";

/** An admin API failure. Its message never contains a token or secret. */
export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "AdminApiError";
  }
}

/** How a provider gets tokens and users; the rest is shared. */
export interface ProviderAdapter {
  /** The token request: URL and init (method, headers, body). */
  tokenRequest(): { url: string; init: RequestInit };
  /** The user endpoint for a subject. */
  userUrl(subject: string): string;
  /** Maps the provider's user document. */
  mapUser(body: Record<string, unknown>, subject: string): AdminUser;
}

interface CachedToken {
  value: string;
  /** When to stop using it (expiry minus a margin), ms. */
  refreshAt: number;
}

/** Seconds before a token's expiry at which a new one is fetched (at most half its lifetime). */
const TOKEN_MARGIN_S = 30;

/** Builds a cached admin API client over a provider adapter. */
export function createCachedAdminClient(adapter: ProviderAdapter, opts: AdminApiClientOptions): AdminApiClient {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const ttl = opts.userCacheTtlMs ?? 60_000;
  const max = opts.userCacheMax ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let token: CachedToken | undefined;
  let tokenInFlight: Promise<string> | undefined;
  const users = new Map<string, { value: AdminUser | undefined; expiresAt: number }>();

  async function fetchToken(): Promise<string> {
    const { url, init } = adapter.tokenRequest();
    const started = now();
    let res: Response;
    try {
      res = await fetchProviderUrl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }, doFetch);
    } catch (e) {
      throw new AdminApiError(`token request failed: ${(e as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new AdminApiError(`token request answered HTTP ${res.status}`, res.status);
    }
    const body = (await res.json().catch(() => undefined)) as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (!body || typeof body.access_token !== "string" || body.access_token === "") {
      throw new AdminApiError("token response has no access_token");
    }
    const lifetime = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    const margin = Math.min(TOKEN_MARGIN_S, lifetime / 2);
    token = { value: body.access_token, refreshAt: started + (lifetime - margin) * 1000 };
    return token.value;
  }

  function getToken(): Promise<string> {
    if (token && now() < token.refreshAt) return Promise.resolve(token.value);
    tokenInFlight ??= fetchToken().finally(() => {
      tokenInFlight = undefined;
    });
    return tokenInFlight;
  }

  async function lookup(subject: string, retried = false): Promise<AdminUser | undefined> {
    const access = await getToken();
    let res: Response;
    try {
      res = await fetchProviderUrl(
        adapter.userUrl(subject),
        { headers: { authorization: `Bearer ${access}`, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) },
        doFetch,
      );
    } catch (e) {
      throw new AdminApiError(`user request failed: ${(e as Error).message}`);
    }
    if (res.status === 401 && !retried) {
      // Revoked or rotated early: forget the token and try once more with a new one.
      await res.body?.cancel().catch(() => {});
      if (token?.value === access) token = undefined;
      return lookup(subject, true);
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new AdminApiError(`user request answered HTTP ${res.status}`, res.status);
    }
    const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!body || typeof body !== "object") throw new AdminApiError("user response is not a JSON object");
    return adapter.mapUser(body, subject);
  }

  return {
    async getUser(subject) {
      const hit = users.get(subject);
      if (hit && now() < hit.expiresAt) return hit.value;
      if (hit) users.delete(subject);
      const value = await lookup(subject);
      if (users.size >= max) {
        // Evict the oldest entry (Map keeps insertion order).
        const oldest = users.keys().next();
        if (!oldest.done) users.delete(oldest.value);
      }
      users.set(subject, { value, expiresAt: now() + ttl });
      return value;
    },
  };
}

/** A non-empty string field of a JSON document, else undefined. */
export function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}
