/**
 * The OpenID Connect half of a provider login (authorization code + PKCE S256, RFC 9700
 * / RFC 8252); the shared half (transactions, redirect URIs, PKCE, sessions) is
 * `auth/providers/login-flow.ts`. Here: the authorization URL (with the stored nonce),
 * the code redeemed at the token endpoint with the
 * client credentials (which go nowhere else), and the ID token validated (signature, iss,
 * aud, azp, exp, nonce, acr).
 */
import { timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcConfig } from "../../config/config.js";
import type { Logger } from "../../lib/logger.js";
import type { Clock } from "../../deps.js";
import type { AuthorizeParams, ProviderIdentity, RedeemParams } from "../providers/types.js";
import type { ProviderMetadata } from "./discovery.js";
import { fetchProviderUrl } from "./fetch.js";
import { profileFromClaims } from "./profile.js";
import { CLOCK_TOLERANCE_SECONDS, describeJoseError, isKeySetUnavailable } from "./verifier.js";

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export interface OidcLoginOptions {
  config: OidcConfig;
  logger: Logger;
  clock: Clock;
  /** The discovered metadata and key set (throws Unavailable before start). */
  ready: () => { metadata: ProviderMetadata; keys: JWTVerifyGetKey };
}

/** The OpenID Connect login steps of one provider. */
export function createOidcLogin(opts: OidcLoginOptions) {
  const { config, logger } = opts;

  async function redeemCode(metadata: ProviderMetadata, code: string, redirectUri: string, codeVerifier: string, p: RedeemParams): Promise<string> {
    const form = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: codeVerifier });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    const methods = metadata.tokenEndpointAuthMethods;
    if (methods.includes("client_secret_basic")) {
      // RFC 6749 section 2.3.1: form-encode id and secret before base64.
      const id = encodeURIComponent(config.clientId).replace(/%20/g, "+");
      const secret = encodeURIComponent(config.clientSecret).replace(/%20/g, "+");
      headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
    } else if (methods.includes("client_secret_post")) {
      form.set("client_id", config.clientId);
      form.set("client_secret", config.clientSecret);
    } else {
      throw new ConnectError("OpenID provider supports neither client_secret_basic nor client_secret_post", Code.FailedPrecondition);
    }
    let res: Response;
    try {
      // Redirects refused: the client credentials never follow a redirect anywhere else.
      res = await fetchProviderUrl(metadata.tokenEndpoint, { method: "POST", headers, body: form, signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      logger.warn({ err: { message: (e as Error).message }, provider: config.id }, "OpenID token endpoint request failed");
      throw new ConnectError("OpenID provider unavailable", Code.Unavailable);
    }
    let body: Record<string, unknown> = {};
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      // handled below
    }
    if (!res.ok) {
      p.failure("token_endpoint", { error: typeof body.error === "string" ? body.error.slice(0, 64) : `http_${res.status}` });
      throw new ConnectError("the provider rejected the authorization code", Code.Unauthenticated);
    }
    if (typeof body.id_token !== "string") {
      p.failure("token_endpoint", { error: "no_id_token" });
      throw new ConnectError("the provider returned no ID token", Code.Unauthenticated);
    }
    return body.id_token;
  }

  return {
    authorizeUrl(metadata: ProviderMetadata, p: AuthorizeParams): string {
      const url = new URL(metadata.authorizationEndpoint);
      const q = url.searchParams;
      q.set("response_type", "code");
      q.set("client_id", config.clientId);
      q.set("redirect_uri", p.redirectUri);
      q.set("scope", config.scopes.join(" "));
      q.set("state", p.state);
      q.set("nonce", p.nonce);
      q.set("code_challenge", p.codeChallenge);
      q.set("code_challenge_method", "S256");
      if (config.requiredAcr !== undefined) q.set("acr_values", config.requiredAcr);
      return url.toString();
    },

    async redeem(p: RedeemParams): Promise<ProviderIdentity> {
      const { metadata, keys } = opts.ready();
      const idToken = await redeemCode(metadata, p.code, p.redirectUri, p.codeVerifier, p);
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(idToken, keys, {
          algorithms: [...config.algorithms],
          issuer: p.issuer,
          audience: config.clientId,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ["sub", "exp", "iat"],
          currentDate: opts.clock(),
        }));
      } catch (e) {
        if (isKeySetUnavailable(e)) throw new ConnectError("OpenID provider keys unavailable", Code.Unavailable);
        p.failure("id_token_invalid", { detail: describeJoseError(e) });
        throw new ConnectError(`invalid ID token: ${describeJoseError(e)}`, Code.Unauthenticated);
      }
      if (typeof claims.nonce !== "string" || !safeEqual(claims.nonce, p.nonce)) {
        p.suspicious("auth.oidc.replay", "nonce_mismatch");
        throw new ConnectError("invalid ID token: nonce mismatch", Code.Unauthenticated);
      }
      const aud = claims.aud;
      if (Array.isArray(aud) && aud.length > 1 && claims.azp !== config.clientId) {
        p.failure("azp_mismatch");
        throw new ConnectError("invalid ID token: azp", Code.Unauthenticated);
      }
      if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 255) {
        p.failure("id_token_invalid", { detail: "sub" });
        throw new ConnectError("invalid ID token: sub", Code.Unauthenticated);
      }
      if (config.requiredAcr !== undefined && claims.acr !== config.requiredAcr) {
        p.failure("acr_insufficient");
        throw new ConnectError("authentication context (acr) not sufficient", Code.Unauthenticated);
      }
      return { issuer: p.issuer, subject: claims.sub, profile: profileFromClaims(claims), claims: Object.freeze({ ...claims }) };
    },
  };
}
