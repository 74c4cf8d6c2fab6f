/**
 * A real OpenID provider (the certified `oidc-provider` package) on 127.0.0.1 and a
 * free port, for tests: one confidential client with PKCE, RS256 JWT access tokens for
 * the resource `TEST_RESOURCE`, client credentials, and a headless login (the
 * interaction endpoint logs in the account named by `login_hint` and grants everything).
 * Every account has the email `<subject>@example.test`, verified unless the subject says
 * otherwise (`testEmailClaims`).
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from "jose";
// oidc-provider ships no type declarations.
// @ts-expect-error
import Provider from "oidc-provider";

export const TEST_CLIENT_ID = "tessera-test";
export const TEST_CLIENT_SECRET = "test-client-secret-0123456789abcdef";
/** The resource indicator (and audience) of JWT access tokens for Tessera. */
export const TEST_RESOURCE = "urn:tessera:api";
export const TEST_KID = "test-key-1";

export interface PkcePair {
  verifier: string;
  challenge: string;
}

/** A fresh PKCE verifier and its S256 challenge. */
export function pkce(): PkcePair {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

interface AuthorizationResult {
  code: string;
  state: string | null;
  iss: string | null;
  /** The full callback URL the provider redirected to. */
  callback: URL;
}

export interface TestProvider {
  issuer: string;
  port: number;
  /** The provider's signing key (tests craft tokens with it). */
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
  /** Redirect URIs registered for the client. */
  redirectUris: string[];
  /** Follows an authorization URL headlessly, logging in `subject`; returns the callback's parameters. */
  authorize(url: string, subject: string): Promise<AuthorizationResult>;
  /** Redeems a code at the token endpoint as the test client. */
  redeem(code: string, redirectUri: string, verifier: string, extra?: Record<string, string>): Promise<Record<string, unknown>>;
  /** A JWT access token (aud TEST_RESOURCE) for `subject`, minted through a real authorization-code + PKCE login. */
  accessTokenFor(subject: string): Promise<string>;
  /** The ID token (aud = client id) and access token (aud TEST_RESOURCE) of one real login of `subject`. */
  tokensFor(subject: string): Promise<{ idToken: string; accessToken: string }>;
  /** A client-credentials JWT access token (sub = client id). */
  clientCredentialsToken(): Promise<string>;
  /** How many times the JWKS endpoint was fetched. */
  jwksRequests(): number;
  close(): Promise<void>;
}

/** Environment for a Tessera server in AUTH_MODE=full that trusts `provider` (its client, its audience). */
export function serverEnvFor(provider: Pick<TestProvider, "issuer">, redirectUris: string): Record<string, string> {
  return {
    AUTH_MODE: "full",
    AUTH_BASEURL: provider.issuer,
    AUTH_AUDIENCE: TEST_RESOURCE,
    AUTH_CLIENT_ID: TEST_CLIENT_ID,
    AUTH_CLIENT_SECRET: TEST_CLIENT_SECRET,
    AUTH_ALLOWED_REDIRECT_URIS: redirectUris,
  };
}

export interface TestProviderOptions {
  /** Extra redirect URIs to register. */
  redirectUris?: string[];
  /** The only client authentication method the token endpoint accepts (default client_secret_basic, among others). */
  clientAuthMethod?: "client_secret_basic" | "client_secret_post";
  /** Put the user's `email` and `email_verified` into JWT access tokens too, as Keycloak does. */
  emailInAccessTokens?: boolean;
  /** The signing key's `kid` (default TEST_KID: every instance publishes the same kid, with its own key). */
  kid?: string;
  /** More (or replaced) claims of an account, for its ID token and UserInfo: `hd`, another `email`, ... */
  accountClaims?: (subject: string) => Record<string, unknown>;
  /** Extra claims in JWT access tokens (roles, as Keycloak's `realm_access`). */
  accessTokenClaims?: (subject: string) => Record<string, unknown>;
}

/**
 * The email claims of a test account: subjects starting with "unverified-" get
 * `email_verified: false`, "noverify-" no `email_verified` at all, everyone else `true`.
 */
function testEmailClaims(subject: string): { email: string; email_verified?: boolean } {
  const email = `${subject}@example.test`;
  if (subject.startsWith("noverify-")) return { email };
  return { email, email_verified: !subject.startsWith("unverified-") };
}

/** The `acr` the test provider records for a login: subjects starting with "mfa-" get MFA. */
export const TEST_ACR_MFA = "urn:tessera:mfa";
export const TEST_ACR_BASIC = "urn:tessera:basic";

/** Starts the provider. */
export async function startTestProvider(opts: TestProviderOptions = {}): Promise<TestProvider> {
  let provider: any;
  let jwksRequests = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith("/jwks")) jwksRequests++;
    if (req.url?.startsWith("/interaction/")) {
      finishInteraction(req, res).catch((e) => {
        res.statusCode = 500;
        res.end(String((e as Error).message));
      });
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = opts.kid ?? TEST_KID;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const publicPem = await exportSPKI(publicKey);

  const redirectUris = [`http://127.0.0.1:${port}/cb`, "http://127.0.0.1/callback", ...(opts.redirectUris ?? [])];
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: TEST_CLIENT_ID,
        client_secret: TEST_CLIENT_SECRET,
        redirect_uris: redirectUris,
        grant_types: ["authorization_code", "client_credentials"],
        response_types: ["code"],
        token_endpoint_auth_method: opts.clientAuthMethod ?? "client_secret_basic",
      },
    ],
    ...(opts.clientAuthMethod ? { clientAuthMethods: [opts.clientAuthMethod] } : {}),
    jwks: { keys: [privateJwk] },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    pkce: { required: () => true, methods: ["S256"] },
    ttl: { AccessToken: 3600, IdToken: 3600, ClientCredentials: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
    // Put scope claims (email, name) in the ID token, as Keycloak, Auth0 and Google do.
    conformIdTokenClaims: false,
    acrValues: [TEST_ACR_BASIC, TEST_ACR_MFA],
    claims: { openid: ["sub"], email: ["email", "email_verified", "hd"], profile: ["name", "picture"] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (resource !== TEST_RESOURCE) throw new provider.constructor.errors.InvalidTarget();
          return { scope: "api:read", audience: TEST_RESOURCE, accessTokenTTL: 3600, accessTokenFormat: "jwt", jwt: { sign: { alg: "RS256" } } };
        },
      },
    },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...testEmailClaims(id), name: `User ${id}`, picture: `https://example.test/${id}.png`, ...opts.accountClaims?.(id) }),
    }),
    ...(opts.emailInAccessTokens || opts.accessTokenClaims
      ? {
          extraTokenClaims: async (_ctx: unknown, token: { accountId?: string }) =>
            token.accountId
              ? { ...(opts.emailInAccessTokens ? testEmailClaims(token.accountId) : {}), ...opts.accessTokenClaims?.(token.accountId) }
              : undefined,
        }
      : {}),
  });
  provider.on("server_error", () => {});

  async function finishInteraction(req: http.IncomingMessage, res: http.ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    const accountId: string = details.params.login_hint ?? "alice";
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope ?? "openid"));
    if (details.params.resource) grant.addResourceScope(String(details.params.resource), "api:read");
    const grantId = await grant.save();
    const acr = accountId.startsWith("mfa-") ? TEST_ACR_MFA : TEST_ACR_BASIC;
    await provider.interactionFinished(req, res, { login: { accountId, acr }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }

  async function authorize(url: string, subject: string): Promise<AuthorizationResult> {
    const jar = new Map<string, string>();
    let next = new URL(url);
    if (!next.searchParams.has("login_hint")) next.searchParams.set("login_hint", subject);
    const redirectUri = next.searchParams.get("redirect_uri") ?? "";
    for (let hop = 0; hop < 12; hop++) {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
      const res = await fetch(next, { redirect: "manual", headers: cookie ? { cookie } : {} });
      for (const sc of res.headers.getSetCookie()) {
        const [pair] = sc.split(";");
        const eq = pair!.indexOf("=");
        jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || !location) {
        throw new Error(`provider stopped the login at ${next.pathname} with HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
      }
      await res.body?.cancel().catch(() => {});
      const target = new URL(location, next);
      if (`${target.origin}${target.pathname}` === redirectUri.replace(/\?.*$/, "")) {
        const code = target.searchParams.get("code");
        if (!code) throw new Error(`provider returned an error: ${target.searchParams.get("error")} ${target.searchParams.get("error_description")}`);
        return { code, state: target.searchParams.get("state"), iss: target.searchParams.get("iss"), callback: target };
      }
      next = target;
    }
    throw new Error("too many redirects");
  }

  async function tokenRequest(form: Record<string, string>): Promise<Record<string, unknown>> {
    const post = opts.clientAuthMethod === "client_secret_post";
    const res = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(post ? {} : { authorization: `Basic ${Buffer.from(`${TEST_CLIENT_ID}:${TEST_CLIENT_SECRET}`).toString("base64")}` }),
      },
      body: new URLSearchParams(post ? { ...form, client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET } : form),
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  async function redeem(code: string, redirectUri: string, verifier: string, extra: Record<string, string> = {}) {
    return tokenRequest({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier, ...extra });
  }

  async function tokensFor(subject: string): Promise<{ idToken: string; accessToken: string }> {
    const p = pkce();
    const redirectUri = redirectUris[0]!;
    const u = new URL(`${issuer}/auth`);
    u.search = new URLSearchParams({
      client_id: TEST_CLIENT_ID,
      response_type: "code",
      scope: "openid email profile api:read",
      redirect_uri: redirectUri,
      state: randomBytes(8).toString("hex"),
      nonce: randomBytes(8).toString("hex"),
      code_challenge: p.challenge,
      code_challenge_method: "S256",
      resource: TEST_RESOURCE,
    }).toString();
    const { code } = await authorize(u.toString(), subject);
    const body = await redeem(code, redirectUri, p.verifier, { resource: TEST_RESOURCE });
    return { idToken: String(body.id_token), accessToken: String(body.access_token) };
  }

  return {
    issuer,
    port,
    privateKey,
    publicJwk,
    publicPem,
    redirectUris,
    authorize,
    redeem,
    async accessTokenFor(subject) {
      return (await tokensFor(subject)).accessToken;
    },
    tokensFor,
    jwksRequests: () => jwksRequests,
    async clientCredentialsToken() {
      const body = await tokenRequest({ grant_type: "client_credentials", resource: TEST_RESOURCE, scope: "api:read" });
      return String(body.access_token);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
