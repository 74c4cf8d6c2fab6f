/**
 * Every request Tessera makes to the OpenID provider (discovery, `jwks_uri`, the token
 * endpoint, UserInfo) and to its admin API goes through `fetchProviderUrl`: a redirect is
 * never followed (`redirect: "error"`), so no answer of the provider can send Tessera,
 * its client secret or a user's token anywhere else (issue 13, finding 14), and a refused
 * redirect says so instead of fetch's bare "fetch failed". Each request is a
 * `provider.fetch` span (method, URL without query, status) when tracing is on.
 */
import { inSpan } from "../../tracing/spans.js";

/** A provider URL answered with a redirect, which is never followed. */
export class ProviderRedirectError extends Error {
  constructor(readonly url: string) {
    super(`${url} answered with a redirect, which Tessera never follows: configure the URL the provider serves directly`);
    this.name = "ProviderRedirectError";
  }
}

/** The URL without query or fragment, for messages. */
function shown(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.origin}${u.pathname}`;
  } catch {
    return "the provider URL";
  }
}

function isRefusedRedirect(e: unknown): boolean {
  if (!(e instanceof TypeError)) return false;
  const cause = (e as { cause?: unknown }).cause;
  const text = cause instanceof Error ? cause.message : e.message;
  return /redirect/i.test(text);
}

/**
 * `fetch` with redirects refused. Throws ProviderRedirectError for a redirect (also when
 * a custom `fetchImpl` hands the 3xx response back instead of failing).
 */
export function fetchProviderUrl(url: string | URL, init: RequestInit = {}, fetchImpl: typeof fetch = fetch): Promise<Response> {
  return inSpan("provider.fetch", { "http.request.method": init.method ?? "GET", "url.full": shown(url) }, async (span) => {
    const res = await fetchRefusingRedirects(url, init, fetchImpl);
    span?.setAttribute("http.response.status_code", res.status);
    return res;
  });
}

async function fetchRefusingRedirects(url: string | URL, init: RequestInit, fetchImpl: typeof fetch): Promise<Response> {
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, redirect: "error" });
  } catch (e) {
    if (isRefusedRedirect(e)) throw new ProviderRedirectError(shown(url));
    throw e;
  }
  if (res.type === "opaqueredirect" || (res.status >= 300 && res.status < 400 && res.headers.has("location"))) {
    await res.body?.cancel().catch(() => {});
    throw new ProviderRedirectError(shown(url));
  }
  return res;
}
