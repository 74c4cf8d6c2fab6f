/**
 * Auth0 Management API client. Token: `POST {baseUrl}/oauth/token` (JSON,
 * client_credentials, audience `{baseUrl}/api/v2/`); user: `GET {baseUrl}/api/v2/users/{id}`
 * (the id URL-encoded; `user_id`, `email`, `name`, `picture`). The client needs the
 * `read:users` scope.
 */
import { createCachedAdminClient, stringField } from "./http-client.js";
import type { AdminApiClient, AdminApiClientOptions } from "./types.js";

/** Builds an Auth0 Management API client. `baseUrl` is the tenant, e.g. `https://example.eu.auth0.com`. */
export function createAuth0Client(opts: AdminApiClientOptions): AdminApiClient {
  const base = opts.baseUrl.replace(/\/+$/, "");
  return createCachedAdminClient(
    {
      tokenRequest: () => ({
        url: `${base}/oauth/token`,
        init: {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({
            grant_type: "client_credentials",
            client_id: opts.clientId,
            client_secret: opts.clientSecret,
            audience: `${base}/api/v2/`,
          }),
        },
      }),
      userUrl: (subject) => `${base}/api/v2/users/${encodeURIComponent(subject)}`,
      mapUser: (body, subject) => ({
        id: stringField(body, "user_id") ?? subject,
        email: stringField(body, "email"),
        name: stringField(body, "name") ?? stringField(body, "nickname"),
        picture: stringField(body, "picture"),
      }),
    },
    opts,
  );
}
