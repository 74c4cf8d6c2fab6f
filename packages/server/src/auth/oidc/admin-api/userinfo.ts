/**
 * The OpenID provider's UserInfo endpoint (OpenID Connect Core 1.0 section 5.3): where a
 * provider user's email is read when its access token does not say whether its email is
 * verified. The endpoint is found by discovery (`discoverProvider`: its `issuer` must equal
 * the configured one on every read, redirects refused; `userinfo_endpoint` cached an hour)
 * and called with the caller's own access token, never through a redirect; the answer's
 * `sub` must equal the token's subject (section 5.3.2).
 */
import { discoverProvider } from "../discovery.js";
import { fetchProviderUrl } from "../fetch.js";

/** The email the provider reports for the caller. */
interface UserinfoEmail {
  email: string;
  /** `email_verified` as reported; undefined when absent. */
  verified: boolean | undefined;
}

/** Reads a provider user's email from the UserInfo endpoint. */
export interface UserinfoClient {
  /** The caller's email, or undefined when the provider reports none. Throws on transport failures. */
  email(accessToken: string, subject: string): Promise<UserinfoEmail | undefined>;
}

/** Where the provider is and how to reach it. */
export interface UserinfoClientOptions {
  /** The provider's base URL (AUTH_BASEURL). */
  baseUrl: string;
  /** The issuer discovery must name, on every read (AUTH_EXPECTED_ISS). */
  issuer: string;
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
    // One attempt: the caller falls back to the stored email, and asks again next time.
    const metadata = await discoverProvider(opts.baseUrl, opts.issuer, { attempts: 1, timeoutMs, fetch: doFetch });
    endpoint = { url: metadata.userinfoEndpoint, until: now() + DISCOVERY_TTL_MS };
    return endpoint.url;
  }

  return {
    async email(accessToken, subject) {
      const url = await userinfoEndpoint();
      if (!url) return undefined;
      const res = await fetchProviderUrl(
        url,
        { headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) },
        doFetch,
      );
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
