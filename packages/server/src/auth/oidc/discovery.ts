/**
 * OpenID provider discovery: fetches `<baseUrl>/.well-known/openid-configuration`
 * (short retry on network errors and 5xx; a redirect is refused at once, never followed)
 * and checks that its `issuer` equals the configured one exactly (OpenID Connect
 * Discovery 1.0 section 4.3), else startup fails. Every later re-read (the UserInfo
 * client's) goes through here too, so the issuer is checked every time.
 */
import { fetchProviderUrl, ProviderRedirectError } from "./fetch.js";

/** The fields of the discovery document Tessera uses. */
export interface ProviderMetadata {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwksUri: string;
  tokenEndpointAuthMethods: string[];
  /** RFC 9207: the provider sends `iss` in authorization responses. */
  issParameterSupported: boolean;
  codeChallengeMethods: string[] | undefined;
  /** OpenID Connect Core section 5.3, when the provider has one. */
  userinfoEndpoint: string | undefined;
}

/** Discovery failed in a way retrying will not fix, or retries were exhausted. */
class DiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DiscoveryError";
  }
}

/** How discovery retries and fetches. */
export interface DiscoveryOptions {
  attempts?: number;
  /** Delay before the second attempt; doubles each time. */
  retryDelayMs?: number;
  timeoutMs?: number;
  /** `fetch` to use (tests); redirects are refused whatever it is. */
  fetch?: typeof fetch;
}

function optionalHttpUrl(doc: Record<string, unknown>, field: string): string | undefined {
  return doc[field] === undefined ? undefined : httpUrl(doc, field);
}

function httpUrl(doc: Record<string, unknown>, field: string): string {
  const v = doc[field];
  if (typeof v !== "string") throw new DiscoveryError(`OpenID discovery document has no ${field}`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new DiscoveryError(`OpenID discovery ${field} is not a URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new DiscoveryError(`OpenID discovery ${field} must be http(s)`);
  return v;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : undefined;
}

/** Fetches and validates the provider's discovery document. Throws DiscoveryError. */
export async function discoverProvider(baseUrl: string, expectedIssuer: string, opts: DiscoveryOptions = {}): Promise<ProviderMetadata> {
  const url = `${baseUrl.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const attempts = opts.attempts ?? 4;
  let delay = opts.retryDelayMs ?? 250;
  let lastProblem = "";
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
    let res: Response;
    try {
      res = await fetchProviderUrl(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) }, opts.fetch);
    } catch (e) {
      if (e instanceof ProviderRedirectError) {
        throw new DiscoveryError(
          `OpenID discovery at ${url} answered with a redirect, which Tessera never follows: set AUTH_BASEURL to the provider's own base URL (where /.well-known/openid-configuration answers directly)`,
        );
      }
      lastProblem = (e as Error).message;
      continue;
    }
    if (res.status >= 500) {
      lastProblem = `HTTP ${res.status}`;
      await res.body?.cancel().catch(() => {});
      continue;
    }
    if (!res.ok) throw new DiscoveryError(`OpenID discovery at ${url} answered HTTP ${res.status}`);
    let doc: Record<string, unknown>;
    try {
      doc = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new DiscoveryError(`OpenID discovery at ${url} is not JSON`);
    }
    if (typeof doc !== "object" || doc === null) throw new DiscoveryError(`OpenID discovery at ${url} is not a JSON object`);
    if (doc.issuer !== expectedIssuer) {
      throw new DiscoveryError(
        `OpenID provider issuer mismatch: discovery at ${url} says issuer "${String(doc.issuer)}" but AUTH_EXPECTED_ISS (or AUTH_BASEURL) is "${expectedIssuer}"; they must be equal exactly`,
      );
    }
    return {
      issuer: expectedIssuer,
      authorizationEndpoint: httpUrl(doc, "authorization_endpoint"),
      tokenEndpoint: httpUrl(doc, "token_endpoint"),
      jwksUri: httpUrl(doc, "jwks_uri"),
      tokenEndpointAuthMethods: strings(doc.token_endpoint_auth_methods_supported) ?? ["client_secret_basic"],
      issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
      codeChallengeMethods: strings(doc.code_challenge_methods_supported),
      userinfoEndpoint: optionalHttpUrl(doc, "userinfo_endpoint"),
    };
  }
  throw new DiscoveryError(`OpenID discovery at ${url} failed after ${attempts} attempts: ${lastProblem}`);
}
