/**
 * Contract tests of the provider admin API clients against local HTTP servers that
 * answer as the Auth0 Management API and the Keycloak Admin REST API document:
 * client-credentials token endpoint + get-user endpoint, token caching, user cache
 * expiry, 401 retry, failures. Then GetTeamAccountMembers using them, with the
 * fallback to stored claims.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { createAuth0Client } from "../packages/server/src/auth/oidc/admin-api/auth0.js";
import { createAdminApiClient, AdminApiError } from "../packages/server/src/auth/oidc/admin-api/index.js";
import { createKeycloakClient, parseKeycloakBaseUrl } from "../packages/server/src/auth/oidc/admin-api/keycloak.js";
import { ConfigError } from "../packages/server/src/config/config.js";
import { DEFAULT_ACCOUNT_ID } from "../packages/server/src/store/ids.js";

const CLIENT_ID = "tessera-admin";
const CLIENT_SECRET = "s3cret-client-secret-value";

interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface FakeProvider {
  baseUrl: string;
  requests: Recorded[];
  tokenRequests(): Recorded[];
  userRequests(): Recorded[];
  /** Makes the next user request answer 401 (token revoked early). */
  revokeTokens(): void;
  failAll: boolean;
  close(): Promise<void>;
}

type Users = Record<string, Record<string, unknown>>;

/** An HTTP server answering like Auth0 (`/oauth/token`, `/api/v2/users/{id}`) or Keycloak (`/realms/{r}/...`, `/admin/realms/{r}/users/{id}`). */
async function startFakeProvider(kind: "auth0" | "keycloak", users: Users, opts: { expiresIn?: number; prefix?: string } = {}): Promise<FakeProvider> {
  const requests: Recorded[] = [];
  let issued = 0;
  const valid = new Set<string>();
  const prefix = opts.prefix ?? "";
  const state = { failAll: false };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      requests.push({ method: req.method ?? "", path: url.pathname, headers: req.headers, body });
      const json = (status: number, doc: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(doc));
      };
      if (state.failAll) return json(503, { error: "unavailable" });
      const tokenPath = kind === "auth0" ? `${prefix}/oauth/token` : `${prefix}/realms/myrealm/protocol/openid-connect/token`;
      if (req.method === "POST" && url.pathname === tokenPath) {
        let grant: Record<string, string>;
        if (kind === "auth0") {
          if (!String(req.headers["content-type"]).startsWith("application/json")) return json(400, { error: "invalid_request" });
          grant = JSON.parse(body) as Record<string, string>;
          if (grant.audience !== `${fake.baseUrl}/api/v2/`)
            return json(403, { error: "access_denied", error_description: "Service not enabled within domain" });
        } else {
          if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) return json(400, { error: "invalid_request" });
          grant = Object.fromEntries(new URLSearchParams(body));
        }
        if (grant.grant_type !== "client_credentials") return json(400, { error: "unsupported_grant_type" });
        if (grant.client_id !== CLIENT_ID || grant.client_secret !== CLIENT_SECRET) {
          return json(401, { error: "access_denied", error_description: "Unauthorized" });
        }
        const token = `mgmt-token-${++issued}`;
        valid.add(token);
        return kind === "auth0"
          ? json(200, { access_token: token, token_type: "Bearer", expires_in: opts.expiresIn ?? 86400, scope: "read:users" })
          : json(200, {
              access_token: token,
              expires_in: opts.expiresIn ?? 300,
              refresh_expires_in: 0,
              token_type: "Bearer",
              "not-before-policy": 0,
              scope: "profile email",
            });
      }
      const userPrefix = kind === "auth0" ? `${prefix}/api/v2/users/` : `${prefix}/admin/realms/myrealm/users/`;
      if (req.method === "GET" && url.pathname.startsWith(userPrefix)) {
        const auth = req.headers.authorization ?? "";
        if (!auth.startsWith("Bearer ") || !valid.has(auth.slice(7))) {
          return json(401, kind === "auth0" ? { statusCode: 401, error: "Unauthorized", message: "Invalid token" } : { error: "HTTP 401 Unauthorized" });
        }
        const id = decodeURIComponent(url.pathname.slice(userPrefix.length));
        const user = users[id];
        if (!user) {
          return json(
            404,
            kind === "auth0"
              ? { statusCode: 404, error: "Not Found", message: "The user does not exist.", errorCode: "inexistent_user" }
              : { error: "User not found" },
          );
        }
        return json(200, user);
      }
      json(404, { error: "not found" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeProvider = {
    baseUrl: `http://127.0.0.1:${port}${prefix}`,
    requests,
    tokenRequests: () => requests.filter((r) => r.method === "POST"),
    userRequests: () => requests.filter((r) => r.method === "GET"),
    revokeTokens: () => valid.clear(),
    get failAll() {
      return state.failAll;
    },
    set failAll(v: boolean) {
      state.failAll = v;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return fake;
}

const AUTH0_USERS: Users = {
  "auth0|5457edea1b8f22891a000004": {
    user_id: "auth0|5457edea1b8f22891a000004",
    email: "john.doe@gmail.com",
    email_verified: false,
    username: "johndoe",
    name: "John Doe",
    nickname: "johndoe",
    picture: "https://s.gravatar.com/avatar/john.png",
    identities: [{ connection: "Initial-Connection", user_id: "5457edea1b8f22891a000004", provider: "auth0", isSocial: false }],
    app_metadata: {},
    user_metadata: {},
    logins_count: 3,
  },
  "google-oauth2|1234": { user_id: "google-oauth2|1234", email: "jane@example.com", nickname: "jane" },
};

const KEYCLOAK_USERS: Users = {
  "c43add41-7fe0-4821-bc25-ef503abb9008": {
    id: "c43add41-7fe0-4821-bc25-ef503abb9008",
    createdTimestamp: 1700000000000,
    username: "oper",
    enabled: true,
    firstName: "Olga",
    lastName: "Operator",
    email: "olga@example.com",
    emailVerified: true,
    attributes: { picture: ["https://img.example.com/olga.png"] },
  },
  "5b0c2e0e-0000-4000-8000-000000000001": { id: "5b0c2e0e-0000-4000-8000-000000000001", username: "bare", enabled: true },
};

describe("Auth0 Management API client", () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider("auth0", AUTH0_USERS);
  });
  afterAll(() => fake.close());

  it("gets users with one cached client-credentials token", async () => {
    fake.requests.length = 0;
    const client = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const [a, b, missing] = await Promise.all([
      client.getUser("auth0|5457edea1b8f22891a000004"),
      client.getUser("google-oauth2|1234"),
      client.getUser("auth0|nobody"),
    ]);
    expect(a).toEqual({
      id: "auth0|5457edea1b8f22891a000004",
      email: "john.doe@gmail.com",
      name: "John Doe",
      picture: "https://s.gravatar.com/avatar/john.png",
    });
    expect(b).toEqual({ id: "google-oauth2|1234", email: "jane@example.com", name: "jane", picture: undefined });
    expect(missing).toBeUndefined();
    expect(fake.tokenRequests()).toHaveLength(1);
    const grant = JSON.parse(fake.tokenRequests()[0]!.body) as Record<string, string>;
    expect(grant).toEqual({ grant_type: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET, audience: `${fake.baseUrl}/api/v2/` });
    // The id is URL-encoded in the path.
    expect(fake.userRequests().map((r) => r.path)).toContain("/api/v2/users/auth0%7C5457edea1b8f22891a000004");
    expect(fake.userRequests().every((r) => r.headers.authorization === "Bearer mgmt-token-1")).toBe(true);
  });

  it("caches users briefly and refreshes the token before it expires", async () => {
    fake.requests.length = 0;
    let now = 1_000_000;
    const client = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, now: () => now, userCacheTtlMs: 60_000 });
    for (let i = 0; i < 5; i++) await client.getUser("auth0|5457edea1b8f22891a000004");
    expect(fake.userRequests()).toHaveLength(1);
    now += 61_000; // user cache expired, token still valid
    await client.getUser("auth0|5457edea1b8f22891a000004");
    expect(fake.userRequests()).toHaveLength(2);
    expect(fake.tokenRequests()).toHaveLength(1);
    now += 86_400_000; // token expired
    await client.getUser("auth0|5457edea1b8f22891a000004");
    expect(fake.tokenRequests()).toHaveLength(2);
    expect(fake.userRequests()).toHaveLength(3);
  });

  it("bounds the user cache", async () => {
    fake.requests.length = 0;
    const client = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, userCacheMax: 1 });
    await client.getUser("auth0|5457edea1b8f22891a000004");
    await client.getUser("google-oauth2|1234");
    await client.getUser("auth0|5457edea1b8f22891a000004");
    expect(fake.userRequests()).toHaveLength(3);
  });

  it("gets a new token once when the API answers 401", async () => {
    fake.requests.length = 0;
    const client = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    await client.getUser("google-oauth2|1234");
    fake.revokeTokens();
    expect((await client.getUser("auth0|5457edea1b8f22891a000004"))?.email).toBe("john.doe@gmail.com");
    expect(fake.tokenRequests()).toHaveLength(2);
  });

  it("fails with an error that names no secret", async () => {
    const wrong = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: "wrong-secret" });
    const e = await wrong.getUser("auth0|5457edea1b8f22891a000004").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AdminApiError);
    expect((e as AdminApiError).status).toBe(401);
    expect(String((e as Error).message)).not.toContain("wrong-secret");
    fake.failAll = true;
    try {
      const client = createAuth0Client({ baseUrl: fake.baseUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
      await expect(client.getUser("x")).rejects.toThrow(/HTTP 503/);
    } finally {
      fake.failAll = false;
    }
  });
});

describe("Keycloak Admin REST API client", () => {
  it("reads the realm from the base URL in every documented form", () => {
    expect(parseKeycloakBaseUrl("http://kc:8080/realms/myrealm")).toEqual({ root: "http://kc:8080", realm: "myrealm" });
    expect(parseKeycloakBaseUrl("http://kc:8080/admin/realms/myrealm")).toEqual({ root: "http://kc:8080", realm: "myrealm" });
    expect(parseKeycloakBaseUrl("https://sso.example.com/auth/realms/my%20realm/")).toEqual({ root: "https://sso.example.com/auth", realm: "my realm" });
    expect(parseKeycloakBaseUrl("http://kc:8080")).toBeUndefined();
    expect(() => createAdminApiClient({ provider: "keycloak", baseUrl: "http://kc:8080", clientId: "c", clientSecret: "s" })).toThrow(ConfigError);
  });

  it.each([["/realms/myrealm"], ["/admin/realms/myrealm"]])("gets users with one cached token (base URL ending %s)", async (suffix) => {
    const fake = await startFakeProvider("keycloak", KEYCLOAK_USERS, { prefix: "/auth" });
    try {
      const root = fake.baseUrl;
      let now = 5_000_000;
      const client = createKeycloakClient({ baseUrl: `${root}${suffix}`, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, now: () => now });
      const olga = await client.getUser("c43add41-7fe0-4821-bc25-ef503abb9008");
      expect(olga).toEqual({
        id: "c43add41-7fe0-4821-bc25-ef503abb9008",
        email: "olga@example.com",
        name: "Olga Operator",
        picture: "https://img.example.com/olga.png",
      });
      expect(await client.getUser("5b0c2e0e-0000-4000-8000-000000000001")).toEqual({
        id: "5b0c2e0e-0000-4000-8000-000000000001",
        email: undefined,
        name: "bare",
        picture: undefined,
      });
      expect(await client.getUser("00000000-0000-4000-8000-00000000dead")).toBeUndefined();
      expect(fake.tokenRequests()).toHaveLength(1);
      const token = fake.tokenRequests()[0]!;
      expect(token.path).toBe("/auth/realms/myrealm/protocol/openid-connect/token");
      expect(Object.fromEntries(new URLSearchParams(token.body))).toEqual({
        grant_type: "client_credentials",
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      });
      expect(fake.userRequests()[0]!.path).toBe("/auth/admin/realms/myrealm/users/c43add41-7fe0-4821-bc25-ef503abb9008");
      // Keycloak tokens live 300 s: past that (minus the margin) a new one is fetched.
      now += 280_000;
      await client.getUser("00000000-0000-4000-8000-00000000beef");
      expect(fake.tokenRequests()).toHaveLength(2);
    } finally {
      await fake.close();
    }
  });
});

describe("GetTeamAccountMembers with a provider admin API", () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider("auth0", AUTH0_USERS);
  });
  afterAll(async () => {
    await fake?.close();
  });
  const t = useTessera({ server: false });

  async function addProviderMember(subject: string, stored: { email: string; name: string }): Promise<string> {
    const db = t.database.db.kysely;
    const user = await db
      .insertInto("users")
      .values({ kind: "human", email: stored.email, email_normalized: stored.email, name: stored.name })
      .returning("id")
      .executeTakeFirstOrThrow();
    await db
      .insertInto("identities")
      .values({ user_id: user.id, issuer: "https://tenant.example.com/", subject, email: stored.email, name: stored.name })
      .execute();
    await db.insertInto("memberships").values({ account_id: DEFAULT_ACCOUNT_ID, user_id: user.id, role: "viewer" }).execute();
    return user.id;
  }

  it("lists provider users from the admin API and falls back to stored claims", async () => {
    const server = await t.startServer({
      env: { AUTH_API_PROVIDER: "auth0", AUTH_API_BASEURL: fake.baseUrl, AUTH_API_CLIENT_ID: CLIENT_ID, AUTH_API_CLIENT_SECRET: CLIENT_SECRET },
    });
    try {
      const john = await addProviderMember("auth0|5457edea1b8f22891a000004", { email: "old@example.com", name: "Old Name" });
      const ghost = await addProviderMember("auth0|deleted", { email: "ghost@example.com", name: "Ghost" });
      const { users } = await server.client(UserAccountService).getTeamAccountMembers({ accountId: DEFAULT_ACCOUNT_ID });
      expect(users.find((u) => u.id === john)).toMatchObject({
        email: "john.doe@gmail.com",
        name: "John Doe",
        image: "https://s.gravatar.com/avatar/john.png",
        role: AccountRole.VIEWER,
      });
      expect(users.find((u) => u.id === ghost)).toMatchObject({ email: "ghost@example.com", name: "Ghost" });
      expect(fake.tokenRequests()).toHaveLength(1);

      // The provider goes down: cached users still answer, others fall back to stored claims.
      fake.failAll = true;
      const other = await addProviderMember("google-oauth2|1234", { email: "jane-old@example.com", name: "Jane (stored)" });
      const again = await server.client(UserAccountService).getTeamAccountMembers({ accountId: DEFAULT_ACCOUNT_ID });
      expect(again.users.find((u) => u.id === other)).toMatchObject({ email: "jane-old@example.com", name: "Jane (stored)" });
      expect(again.users.find((u) => u.id === john)?.email).toBe("john.doe@gmail.com");
      const warnings = server.logs.filter((l) => l.includes("admin API lookup failed"));
      expect(warnings.length).toBeGreaterThan(0);
      expect(server.logs.join("\n")).not.toContain(CLIENT_SECRET);
      expect(server.logs.join("\n")).not.toContain("mgmt-token-");
    } finally {
      fake.failAll = false;
      await server.close();
    }
  });
});
