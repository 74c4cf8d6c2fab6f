/**
 * The OpenID provider's UserInfo endpoint (OpenID Connect Core 1.0 section 5.3): where a
 * provider user's email is read when its access token carries no `email` claim. The
 * endpoint is found by discovery (`{baseUrl}/.well-known/openid-configuration`,
 * `userinfo_endpoint`, cached an hour) and called with the caller's own access token;
 * the answer's `sub` must equal the token's subject (section 5.3.2).
 */

/** The email the provider reports for the caller. */
export interface UserinfoEmail {
  email: string;
  /** `email_verified` as reported; undefined when absent. */
  verified: boolean | undefined;
}

export interface UserinfoClient {
  /** The caller's email, or undefined when the provider reports none. Throws on transport failures. */
  email(accessToken: string, subject: string): Promise<UserinfoEmail | undefined>;
}

export interface UserinfoClientOptions {
  /** The provider's base URL (AUTH_BASEURL). */
  baseUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

const DISCOVERY_TTL_MS = 60 * 60 * 1000;

/** Builds a UserInfo client. */
export function createUserinfoClient(opts: UserinfoClientOptions): UserinfoClient {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const now = opts.now ?? Date.now;
  let endpoint: { url: string | undefined; until: number } | undefined;

  async function userinfoEndpoint(): Promise<string | undefined> {
    if (endpoint && now() < endpoint.until) return endpoint.url;
    const res = await doFetch(`${opts.baseUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`discovery answered HTTP ${res.status}`);
    }
    const doc = (await res.json()) as { userinfo_endpoint?: unknown };
    const url = typeof doc.userinfo_endpoint === "string" && /^https?:\/\//i.test(doc.userinfo_endpoint) ? doc.userinfo_endpoint : undefined;
    endpoint = { url, until: now() + DISCOVERY_TTL_MS };
    return url;
  }

  return {
    async email(accessToken, subject) {
      const url = await userinfoEndpoint();
      if (!url) return undefined;
      const res = await doFetch(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`userinfo answered HTTP ${res.status}`);
      }
      if (!String(res.headers.get("content-type")).toLowerCase().startsWith("application/json")) {
        // Signed or encrypted UserInfo responses are not used.
        await res.body?.cancel().catch(() => {});
        return undefined;
      }
      const body = (await res.json()) as { sub?: unknown; email?: unknown; email_verified?: unknown };
      if (body.sub !== subject) throw new Error("userinfo sub does not match the token's subject");
      if (typeof body.email !== "string" || body.email.trim() === "") return undefined;
      const v = body.email_verified;
      return { email: body.email, verified: typeof v === "boolean" ? v : v === "true" ? true : v === "false" ? false : undefined };
    },
  };
}
