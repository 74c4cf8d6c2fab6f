/**
 * Keycloak Admin REST API client. `AUTH_API_BASEURL` names the realm, in any of these
 * forms: `https://host/realms/{realm}`, `https://host/admin/realms/{realm}`, with an
 * optional path prefix such as the legacy `/auth` (`https://host/auth/realms/{realm}`).
 * Token: `POST {root}/realms/{realm}/protocol/openid-connect/token` (form-encoded
 * client_credentials; the client needs the `realm-management` role `view-users`);
 * user: `GET {root}/admin/realms/{realm}/users/{id}` (`id`, `email`, `firstName`,
 * `lastName`, `attributes.picture`).
 */
import { createCachedAdminClient, stringField } from "./http-client.js";
import type { AdminApiClient, AdminApiClientOptions } from "./types.js";

const REALM_URL = /^(.*?)\/(?:admin\/)?realms\/([^/?#]+)\/*$/;

/** Splits a Keycloak base URL into the server root and realm; undefined when no realm is named. */
export function parseKeycloakBaseUrl(baseUrl: string): { root: string; realm: string } | undefined {
  const m = REALM_URL.exec(baseUrl.trim());
  if (!m?.[1] || !m[2]) return undefined;
  return { root: m[1], realm: decodeURIComponent(m[2]) };
}

function firstAttribute(body: Record<string, unknown>, key: string): string | undefined {
  const attrs = body.attributes;
  if (!attrs || typeof attrs !== "object") return undefined;
  const v = (attrs as Record<string, unknown>)[key];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "string" && first !== "" ? first : undefined;
}

/** Builds a Keycloak admin client. Throws when the base URL does not name a realm. */
export function createKeycloakClient(opts: AdminApiClientOptions): AdminApiClient {
  const parsed = parseKeycloakBaseUrl(opts.baseUrl);
  if (!parsed) throw new Error("must name the realm, e.g. https://keycloak.example.com/realms/myrealm");
  const realm = encodeURIComponent(parsed.realm);
  return createCachedAdminClient(
    {
      tokenRequest: () => ({
        url: `${parsed.root}/realms/${realm}/protocol/openid-connect/token`,
        init: {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
          body: new URLSearchParams({ grant_type: "client_credentials", client_id: opts.clientId, client_secret: opts.clientSecret }).toString(),
        },
      }),
      userUrl: (subject) => `${parsed.root}/admin/realms/${realm}/users/${encodeURIComponent(subject)}`,
      mapUser: (body, subject) => {
        const name = [stringField(body, "firstName"), stringField(body, "lastName")].filter(Boolean).join(" ");
        return {
          id: stringField(body, "id") ?? subject,
          email: stringField(body, "email"),
          name: name !== "" ? name : stringField(body, "username"),
          picture: firstAttribute(body, "picture"),
        };
      },
    },
    opts,
  );
}
