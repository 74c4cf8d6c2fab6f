/**
 * `GET /v1/auth/config`: the sign-in options in the shape Everruns' UI reads at startup
 * (`{mode, password_auth_enabled, oauth_providers, signup_enabled}`, providers by id), so
 * a frontend written for Everruns finds Tessera's providers unchanged. The typed API is
 * `AuthService.GetAuthConfig`; this is the same information, public and cacheable for a minute.
 */
import type { Config } from "../config/config.js";
import { sendJson, type HttpHandler } from "../lib/http.js";

/** Builds the handler; the answer is fixed at startup. */
export function createAuthConfigRoute(config: Pick<Config, "authMode" | "passwordLoginEnabled" | "signupEnabled" | "providers">): HttpHandler {
  const body = {
    mode: config.authMode,
    password_auth_enabled: config.passwordLoginEnabled,
    oauth_providers: config.providers.map((p) => p.id),
    signup_enabled: config.signupEnabled,
  };
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/v1/auth/config") return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { code: "method_not_allowed", message: "GET only" }, { allow: "GET, HEAD" });
      return true;
    }
    sendJson(res, 200, body, { "cache-control": "public, max-age=60" });
    return true;
  };
}
