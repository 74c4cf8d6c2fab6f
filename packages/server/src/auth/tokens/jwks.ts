/**
 * Where other services find Tessera's public keys: `/.well-known/jwks.json` and a
 * minimal `/.well-known/openid-configuration` naming the issuer and that key set, so
 * tokens can be verified offline (jose `createRemoteJWKSet`, the embeddable interceptor).
 */
import { sendJson, type HttpHandler } from "../../lib/http.js";
import { SIGNING_ALG, type KeyRing } from "./signing-keys.js";

/** Builds the handler of both well-known documents for the issuer `publicUrl`. */
export function createJwksHandler(keys: Pick<KeyRing, "jwks">, publicUrl: string): HttpHandler {
  const discovery = {
    issuer: publicUrl,
    jwks_uri: `${publicUrl}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: [SIGNING_ALG],
    subject_types_supported: ["public"],
    response_types_supported: [],
    grant_types_supported: ["refresh_token"],
    claims_supported: ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id"],
  };
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "").split("?")[0];
    if (path === "/.well-known/jwks.json") {
      sendJson(res, 200, keys.jwks(), { "cache-control": "public, max-age=300" });
      return true;
    }
    if (path === "/.well-known/openid-configuration") {
      sendJson(res, 200, discovery, { "cache-control": "public, max-age=300" });
      return true;
    }
    return false;
  };
}
