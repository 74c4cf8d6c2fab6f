/**
 * The transport-independent core of every Tessera client: a transport that carries the
 * caller's credentials (an API key, or tokens refreshed single-flight), and the session
 * helpers (sign in, sign up, sign out, refresh). Clients of any service share it, so a
 * browser bundle holds only the services it uses.
 */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { AuthService } from "./gen/tessera/v1/auth_pb.js";
import { MfaService } from "./gen/tessera/v1/mfa_pb.js";
import { createCredentials } from "./credentials.js";
import { tokensFromSignIn, type MfaChallenge, type MfaProof } from "./mfa.js";
import { createMemoryTokenStore, tokensFromMessage, type Tokens, type TokenStore } from "./tokens.js";
import { withInterceptors } from "./with-interceptors.js";

/** Wire protocol: Connect (default), gRPC-web, or gRPC (HTTP/2; Node only). */
export type Protocol = "connect" | "grpc-web" | "grpc";

/** Options of `createTesseraSession` and `createTesseraClient`. */
export interface TesseraClientOptions {
  /** Tessera's base URL, e.g. `http://127.0.0.1:8080`. Required unless `transport` is given. */
  baseUrl?: string;
  /** An API key (`tsk_...`) for machines and scripts. Wins over tokens. */
  apiKey?: string;
  /** A Tessera access token (or one of the configured OpenID provider). */
  accessToken?: string;
  /** When `accessToken` expires (read from the JWT's `exp` when not given). */
  accessTokenExpiresAt?: Date;
  /** A refresh token: the client refreshes the access token itself, single-flight. */
  refreshToken?: string;
  /** Where tokens live; default in memory. Given tokens are written into it. */
  tokenStore?: TokenStore;
  /** Wire protocol; default `"connect"`. */
  protocol?: Protocol;
  /** Use this transport instead of building one (credentials are still added). */
  transport?: Transport;
  /** A fetch implementation for fetch-based transports (e.g. to set `credentials`). */
  fetch?: typeof globalThis.fetch;
  /** More interceptors, run after the credentials interceptor. */
  interceptors?: Interceptor[];
  /** Refresh this long before the access token's known expiry; default 5 000 ms. */
  refreshSkewMs?: number;
  /**
   * Node only (browsers use their own TLS settings): PEM text of a CA to trust for an
   * `https://` Tessera, and a client certificate and key to present when Tessera asks for
   * one (mutual TLS, `TLS_CLIENT_CA`).
   */
  tls?: ClientTls;
}

/** TLS settings of a Node client: PEM text. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A signed-in (or keyed) connection to Tessera: clients of any service share its credentials. */
export interface TesseraSession {
  /** The transport with credentials, for generated clients (`createClient(Service, session.transport)`). */
  transport: Transport;
  /** The token store in use. */
  tokenStore: TokenStore;
  /** A typed client of `service` over this session's transport: `session.client(AuthService)`. */
  client<S extends DescService>(service: S): Client<S>;
  /** Replaces the stored tokens (e.g. after a sign-in done elsewhere). */
  setTokens(tokens: Tokens): Promise<void>;
  /** The stored tokens, if any. */
  getTokens(): Promise<Tokens | undefined>;
  /**
   * Email/password Login; stores and returns the tokens. For a user with a second factor
   * it stores nothing and rejects with `MfaRequiredError`: pass its `challenge` to `verifyMfa`.
   */
  signIn(email: string, password: string): Promise<Tokens>;
  /**
   * Completes a sign-in that answered an MFA challenge (`MfaRequiredError.challenge`, or
   * its `challenge` string) with a current TOTP code or a recovery code; stores and
   * returns the tokens. A wrong code rejects with `InvalidArgument` (try again with the
   * same challenge); an expired, used or exhausted challenge with `NotFound` (sign in again).
   */
  verifyMfa(challenge: MfaChallenge | string, proof: MfaProof): Promise<Tokens>;
  /**
   * Email/password SignUp; stores and returns the tokens. When the server requires a
   * verified email (AUTH_REQUIRE_VERIFIED_EMAIL) it rejects with
   * `EmailVerificationRequiredError`: the user follows the mailed link, then signs in.
   */
  signUp(email: string, password: string, name?: string): Promise<Tokens>;
  /** Ends the session (Logout) and clears the store; the store is cleared even if Logout fails. */
  signOut(): Promise<void>;
  /** Refreshes the tokens now (single-flight with automatic refreshes). */
  refresh(): Promise<Tokens>;
}

/** SignUp succeeded, but the user must follow the mailed verification link before signing in. */
export class EmailVerificationRequiredError extends Error {
  constructor() {
    super("check your email: follow the link we sent to confirm the address, then sign in");
    this.name = "EmailVerificationRequiredError";
  }
}

/** Builds a base transport (without credentials) for the given options. */
export type TransportFactory = (opts: { baseUrl: string; protocol: Protocol; fetch?: typeof globalThis.fetch; tls?: ClientTls }) => Transport;

/** `createTesseraSession` with the transport factory of the entry point (browser or Node). */
export function buildTesseraSession(opts: TesseraClientOptions, makeTransport: TransportFactory): TesseraSession {
  let base: Transport;
  if (opts.transport) {
    base = opts.transport;
  } else {
    if (!opts.baseUrl) throw new TypeError("createTesseraClient: baseUrl is required (or pass a transport)");
    base = makeTransport({ baseUrl: opts.baseUrl.replace(/\/+$/, ""), protocol: opts.protocol ?? "connect", fetch: opts.fetch, tls: opts.tls });
  }
  const tokenStore = opts.tokenStore ?? createMemoryTokenStore();
  let ready: Promise<void> = Promise.resolve();
  if (opts.accessToken !== undefined || opts.refreshToken !== undefined) {
    ready = Promise.resolve(
      tokenStore.set({ accessToken: opts.accessToken ?? "", refreshToken: opts.refreshToken, accessTokenExpiresAt: opts.accessTokenExpiresAt }),
    );
  }
  // RefreshToken goes over the bare transport: no bearer, no recursion.
  const bareAuth = createClient(AuthService, base);
  const credentials = createCredentials({
    apiKey: opts.apiKey,
    tokenStore,
    refreshSkewMs: opts.refreshSkewMs,
    async refresh(refreshToken) {
      const res = await bareAuth.refreshToken({ refreshToken });
      if (!res.tokens) throw new Error("RefreshToken answered without tokens");
      return tokensFromMessage(res.tokens);
    },
  });
  const readyInterceptor: Interceptor = (next) => async (req) => {
    await ready;
    return next(req);
  };
  const transport = withInterceptors(base, [readyInterceptor, credentials.interceptor, ...(opts.interceptors ?? [])]);
  const auth = createClient(AuthService, transport);
  const mfa = createClient(MfaService, transport);

  async function store(t: Tokens): Promise<Tokens> {
    await ready;
    await tokenStore.set(t);
    return t;
  }

  return {
    transport,
    tokenStore,
    client: (service) => createClient(service, transport),
    setTokens: async (t) => {
      await store(t);
    },
    getTokens: async () => {
      await ready;
      return tokenStore.get();
    },
    async signIn(email, password) {
      return store(tokensFromSignIn(await auth.login({ email, password })));
    },
    async verifyMfa(challenge, proof) {
      const res = await mfa.verifyMfa({
        challenge: typeof challenge === "string" ? challenge : challenge.challenge,
        code: "code" in proof ? proof.code.replace(/\s+/g, "") : "",
        recoveryCode: "recoveryCode" in proof ? proof.recoveryCode.trim() : "",
      });
      if (!res.tokens) throw new Error("VerifyMfa answered without tokens");
      return store(tokensFromMessage(res.tokens));
    },
    async signUp(email, password, name = "") {
      const res = await auth.signUp({ email, password, name });
      if (res.verificationRequired) throw new EmailVerificationRequiredError();
      if (!res.tokens) throw new Error("SignUp answered without tokens");
      return store(tokensFromMessage(res.tokens));
    },
    async signOut() {
      await ready;
      const t = await tokenStore.get();
      await tokenStore.clear();
      if (t?.refreshToken) await auth.logout({ refreshToken: t.refreshToken });
    },
    async refresh() {
      await ready;
      const t = await tokenStore.get();
      return credentials.refreshAfter(t?.accessToken ?? "");
    },
  };
}
