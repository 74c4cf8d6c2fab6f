/**
 * Offline verification of Tessera's access tokens against its JWKS: ES256/EdDSA only,
 * `typ` at+jwt, `iss` as Tessera announces it, `aud` as configured.
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { unauthenticated, unavailable } from "./errors.js";
import type { TesseraPrincipal } from "./principal-key.js";
import type { TokenClaims } from "./revocations.js";

const ALGORITHMS = ["ES256", "EdDSA"];

/** A verified token: the principal, the claims revocations match, and until when (ms) it verifies. */
export interface VerifiedJwt {
  principal: TesseraPrincipal;
  claims: TokenClaims;
  /** `exp` plus the clock tolerance, ms: a cached verification is reused until then. */
  validUntilMs: number;
}

/** What the verification needs. */
export interface JwtCheck {
  jwks: JWTVerifyGetKey;
  issuer: string;
  audience: string | string[] | undefined;
  clockToleranceSeconds: number;
  nowMs: number;
}

/** Verifies `token`; Unauthenticated when it is not a valid access token, Unavailable when the JWKS cannot be fetched. */
export async function verifyTesseraJwt(token: string, c: JwtCheck): Promise<VerifiedJwt> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, c.jwks, {
      algorithms: ALGORITHMS,
      typ: "at+jwt",
      issuer: c.issuer,
      audience: c.audience ?? c.issuer,
      clockTolerance: c.clockToleranceSeconds,
      currentDate: new Date(c.nowMs),
      requiredClaims: ["sub", "exp"],
    }));
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ERR_JWT_EXPIRED") throw unauthenticated("access token expired", true);
    // The signature held, only the audience did not: say which was expected and which came (a misconfigured `audience`).
    if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && (e as { claim?: unknown }).claim === "aud") {
      const expected = [c.audience ?? c.issuer].flat().join(", ");
      const got = [(e as { payload?: JWTPayload }).payload?.aud ?? "none"].flat().join(", ");
      const fix = "set the interceptor's audience to Tessera's AUTH_JWT_AUDIENCE; leave it unset when that is unset";
      throw unauthenticated(`invalid access token: audience expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)} (${fix})`, true);
    }
    if (typeof code === "string" && /^ERR_(JWT|JWS|JWE)_|^ERR_JWKS_(NO|MULTIPLE)_MATCHING_KEY|^ERR_JOSE_(ALG_NOT_ALLOWED|NOT_SUPPORTED)/.test(code)) {
      throw unauthenticated("invalid access token", true);
    }
    throw unavailable("JWKS", e);
  }
  const kid = decodeProtectedHeader(token).kid;
  const sid = typeof payload.sid === "string" ? payload.sid : undefined;
  return {
    principal: { userId: payload.sub!, kind: "user", expiresAt: new Date(payload.exp! * 1000), sessionId: sid, via: "jwt" },
    claims: { sub: payload.sub!, iat: typeof payload.iat === "number" ? payload.iat : undefined, sid, kid: typeof kid === "string" ? kid : undefined },
    validUntilMs: (payload.exp! + c.clockToleranceSeconds) * 1000,
  };
}
