/**
 * Provider admin APIs (AUTH_API_PROVIDER, AUTH_API_BASEURL, AUTH_API_CLIENT_ID,
 * AUTH_API_CLIENT_SECRET): where member listings get OpenID users' current profiles.
 */
import { ConfigError, type AdminApiConfig } from "../../../config/config.js";
import { createAuth0Client } from "./auth0.js";
import { createKeycloakClient } from "./keycloak.js";
import type { AdminApiClient, AdminApiClientOptions } from "./types.js";

export type { AdminApiClient } from "./types.js";
export { AdminApiError } from "./http-client.js";

/** Builds the configured admin API client. Throws ConfigError for a Keycloak URL without a realm. */
export function createAdminApiClient(config: AdminApiConfig, extra: Partial<AdminApiClientOptions> = {}): AdminApiClient {
  const opts: AdminApiClientOptions = { ...extra, baseUrl: config.baseUrl, clientId: config.clientId, clientSecret: config.clientSecret };
  if (config.provider === "keycloak") {
    try {
      return createKeycloakClient(opts);
    } catch (e) {
      throw new ConfigError("AUTH_API_BASEURL", (e as Error).message);
    }
  }
  return createAuth0Client(opts);
}
