/**
 * Verifies bearer JWTs issued by the configured OpenID provider (RFC 8725 practices):
 * keys only from the discovery document's `jwks_uri` (the token's `jku`, `x5u` and
 * embedded `jwk` headers are never used), algorithms exactly the configured allow-list,
 * `iss`/`aud`/`exp`/`nbf` checked with 60 s of clock skew, `sub` required, and only access
 * tokens accepted: ID tokens and other JWTs of the provider are refused
 * (`oidc-token-kind.ts`). The `kid` only selects a key from the in-memory key set. Verified tokens are cached until they
 * expire, and (issuer, subject) -> user for a short while, so the warm path does no
 * cryptography and no database query.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt, errors, jwtVerify, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcConfig } from "../../config/config.js";
import { BoundedCache } from "../../lib/bounded-cache.js";
import type { Clock } from "../../deps.js";
import type { CredentialVerifier } from "../request/interceptor.js";
import { notAnAccessTokenReason } from "./token-kind.js";
import type { Principal } from "../request/principal.js";

/** Clock skew allowed on exp/nbf/iat. */
export const CLOCK_TOLERANCE_SECONDS = 60;

/** Resolves (issuer, subject) to a Tessera user, provisioning on first sight. */
type ResolveUser = (issuer: string, subject: string, claims: JWTPayload) => Promise<{ userId: string; disabled: boolean }>;

export interface OidcVerifierOptions {
  config: OidcConfig;
  /** The provider's key set (jose createRemoteJWKSet over discovery's jwks_uri). */
  keys: () => JWTVerifyGetKey | undefined;
  clock: Clock;
  resolveUser: ResolveUser;
  /** Entries in the verified-token cache. */
  cacheSize?: number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function fail(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** Maps a jose verification error to a short, secret-free message. */
export function describeJoseError(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "token expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return "token not yet valid";
    if (e.claim === "iss") return "unexpected token issuer";
    if (e.claim === "aud") return "unexpected token audience";
    return `invalid token claim ${e.claim}`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (e instanceof errors.JWKSNoMatchingKey) return "no matching provider key";
  if (e instanceof errors.JWSSignatureVerificationFailed) return "invalid token signature";
  if (e instanceof errors.JWKSTimeout) return "provider keys unavailable";
  return "invalid token";
}

/** True when verification failed because the provider's key set could not be fetched (not the token's fault). */
export function isKeySetUnavailable(e: unknown): boolean {
  return e instanceof errors.JWKSTimeout || !(e instanceof errors.JOSEError);
}

interface CachedToken {
  expMs: number;
  issuer: string;
  subject: string;
  claims: Readonly<Record<string, unknown>>;
}

/** Builds the provider bearer-token verifier. */
export function createOidcVerifier(opts: OidcVerifierOptions): CredentialVerifier & { clearCache(): void } {
  const { config, clock } = opts;
  const cache = new BoundedCache<string, CachedToken>({ maxEntries: opts.cacheSize ?? 10_000 });
  const algorithms = [...config.algorithms];

  return {
    clearCache: () => cache.clear(),
    async verify(token) {
      if (token.startsWith("tsk_") || !JWT_SHAPE.test(token)) return undefined;
      const now = clock();
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (hit.expMs > now.getTime()) {
          const user = await opts.resolveUser(hit.issuer, hit.subject, hit.claims);
          if (user.disabled) throw fail("user is disabled");
          return { kind: "oidc_user", userId: user.userId, issuer: hit.issuer, subject: hit.subject, expiresAt: new Date(hit.expMs), claims: hit.claims };
        }
        cache.delete(token);
      }
      // Route on the unverified issuer: tokens of other issuers (Tessera's own) are not ours.
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        return undefined;
      }
      if (unverified.iss !== config.expectedIssuer) return undefined;
      const keys = opts.keys();
      if (!keys) throw new ConnectError("OpenID provider not ready", Code.Unavailable);
      let payload: JWTPayload;
      let header: JWTHeaderParameters;
      try {
        ({ payload, protectedHeader: header } = await jwtVerify(token, keys, {
          algorithms,
          issuer: config.expectedIssuer,
          audience: config.audiences,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ["sub", "exp"],
          currentDate: now,
        }));
      } catch (e) {
        if (isKeySetUnavailable(e)) throw new ConnectError("OpenID provider keys unavailable", Code.Unavailable);
        throw fail(describeJoseError(e));
      }
      // Before anything is cached or provisioned: an ID token never authenticates (RFC 9068 section 4).
      const notAccess = notAnAccessTokenReason(header, payload, config.clientId);
      if (notAccess !== undefined) throw fail(notAccess);
      if (typeof payload.sub !== "string" || payload.sub === "" || payload.sub.length > 255) throw fail("invalid token subject");
      if (typeof payload.exp !== "number") throw fail("token has no expiry");
      if (config.requiredAcr !== undefined && payload.acr !== config.requiredAcr) throw fail("authentication context (acr) not sufficient");
      const claims = Object.freeze({ ...payload }) as Readonly<Record<string, unknown>>;
      const user = await opts.resolveUser(config.expectedIssuer, payload.sub, payload);
      if (user.disabled) throw fail("user is disabled");
      const expMs = payload.exp * 1000;
      cache.set(token, { expMs, issuer: config.expectedIssuer, subject: payload.sub, claims });
      const principal: Principal = {
        kind: "oidc_user",
        userId: user.userId,
        issuer: config.expectedIssuer,
        subject: payload.sub,
        expiresAt: new Date(expMs),
        claims,
      };
      return principal;
    },
  };
}
