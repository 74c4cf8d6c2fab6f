/**
 * Tessera for other Connect services: `createAuthInterceptor` authenticates a
 * service's callers against a Tessera server and puts the caller under
 * `tesseraPrincipalKey`.
 *
 * - Tessera access tokens (JWTs whose `iss` is Tessera's issuer) are verified offline
 *   against `<tesseraUrl>/.well-known/jwks.json`: ES256/EdDSA only, `typ` at+jwt,
 *   `iss` as Tessera announces it (GetAuthConfig), `aud` as configured. Offline means
 *   a token keeps working until it expires even after its session ends or its user
 *   is disabled (Tessera's access tokens live AUTH_JWT_ACCESS_TOKEN_LIFETIME, 15
 *   minutes by default).
 * - API keys (`tsk_...`) and every other bearer (e.g. the OpenID provider's tokens
 *   Tessera accepts) are introspected with `AuthService.CheckToken` and the answer is
 *   cached for `apiKeyCacheTtlMs` (default 5 s): a revoked, regenerated or deleted key
 *   keeps working here for at most that long. Rejections are cached as well, in the
 *   same bounded cache (keyed by the token's SHA-256, never the token itself).
 * - The service's own credentials (`verifiers`, e.g. its `sk_...` keys) are checked by
 *   the service's verifiers first; a token a verifier matches never reaches Tessera.
 *
 * ```ts
 * const auth = createAuthInterceptor({ tesseraUrl: "http://tessera:8080", publicProcedures: ["/greet.v1.GreetService/Health"] });
 * http.createServer(connectNodeAdapter({ routes, interceptors: [auth] }));
 * // in a handler: const caller = requireTesseraPrincipal(ctx);
 * ```
 */
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import { webTransport } from "@tessera/sdk";
import { AuthService, PrincipalKind } from "@tessera/sdk/proto";
import { tesseraPrincipalKey, type TesseraPrincipal, type TesseraPrincipalKind } from "./principal-key.js";
import { TtlCache } from "./ttl-cache.js";
import { findVerifier, runVerifier, type CredentialVerifier } from "./verifiers.js";

export { requireTesseraPrincipal, tesseraPrincipalKey, type TesseraPrincipal, type TesseraPrincipalKind } from "./principal-key.js";
export type { CredentialVerifier, VerifiedCaller } from "./verifiers.js";

/** Options of `createAuthInterceptor`. */
export interface AuthInterceptorOptions {
  /** Where this service reaches Tessera, e.g. `http://tessera:8080` (may differ from its public URL). */
  tesseraUrl: string;
  /**
   * Accepted `aud` of Tessera access tokens. Default: Tessera's issuer, which is
   * Tessera's own default (AUTH_JWT_AUDIENCE unset). Set it when Tessera sets
   * AUTH_JWT_AUDIENCE.
   */
  audience?: string | string[];
  /** Tessera's issuer; default: asked once with GetAuthConfig. */
  issuer?: string;
  /** Procedures that need no credentials: `/pkg.Service/Method`, `pkg.Service/Method` or `pkg.Service/*`. */
  publicProcedures?: Iterable<string>;
  /**
   * How long a CheckToken answer (API keys, other bearers) is reused, ms. Default
   * 5 000: revocation is visible here within that window. 0 disables the cache.
   */
  apiKeyCacheTtlMs?: number;
  /** Most cached introspection answers; least recently used go first. Default 10 000. */
  cacheMaxEntries?: number;
  /** Accept the anonymous principal of a Tessera in AUTH_MODE=none. Default false. */
  allowAnonymous?: boolean;
  /** Deadline of every call to Tessera, ms. Default 5 000. */
  timeoutMs?: number;
  /** Allowed clock skew for `exp`/`nbf`, seconds. Default 60 (as Tessera). */
  clockToleranceSeconds?: number;
  /**
   * The service's own verifiers, tried in order before Tessera's: the first whose
   * `match(token)` is true decides, and the token never reaches Tessera. Tokens none
   * matches are Tessera's (JWTs, API keys, provider tokens).
   */
  verifiers?: readonly CredentialVerifier[];
  /** The transport to Tessera; default Connect over `fetch` to `tesseraUrl`. */
  transport?: Transport;
  /** The current time in ms; tests pass their own. */
  now?: () => number;
}

/** Authenticates an `Authorization` header value against Tessera. */
export interface TesseraAuthenticator {
  /** The caller, or a ConnectError: Unauthenticated (bad credentials) or Unavailable (Tessera unreachable). */
  authenticate(authorization: string | null | undefined): Promise<TesseraPrincipal>;
}

const ALGORITHMS = ["ES256", "EdDSA"];
const REALM = 'Bearer realm="tessera"';
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const MAX_TOKEN = 16 * 1024;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const KINDS: Partial<Record<PrincipalKind, TesseraPrincipalKind>> = {
  [PrincipalKind.USER]: "user",
  [PrincipalKind.OIDC_USER]: "oidc_user",
  [PrincipalKind.API_KEY]: "api_key",
  [PrincipalKind.ANONYMOUS]: "anonymous",
};

function unauthenticated(message: string, tokenPresented: boolean): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": tokenPresented ? `${REALM}, error="invalid_token"` : REALM });
}

function unavailable(what: string, e: unknown): ConnectError {
  const ce = ConnectError.from(e);
  return new ConnectError(`tessera unreachable (${what}: ${Code[ce.code] ?? ce.code})`, Code.Unavailable);
}

async function sha256(token: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

type Introspection = { ok: true; principal: TesseraPrincipal } | { ok: false; error: ConnectError };

/** Builds the authenticator behind `createAuthInterceptor` (usable outside Connect too). */
export function createTesseraAuthenticator(opts: AuthInterceptorOptions): TesseraAuthenticator {
  const base = opts.tesseraUrl.replace(/\/+$/, "");
  const now = opts.now ?? (() => Date.now());
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const ttl = opts.apiKeyCacheTtlMs ?? 5_000;
  const transport = opts.transport ?? webTransport({ baseUrl: base, protocol: "connect" });
  const verifiers = [...(opts.verifiers ?? [])];
  const tessera = createClient(AuthService, transport);
  const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`), { timeoutDuration: timeoutMs });
  const cache = new TtlCache<Promise<Introspection>>(opts.cacheMaxEntries ?? 10_000, now);

  let issuerPromise: Promise<string> | undefined = opts.issuer ? Promise.resolve(opts.issuer) : undefined;
  function issuer(): Promise<string> {
    if (!issuerPromise) {
      issuerPromise = tessera.getAuthConfig({}, { timeoutMs }).then(
        (c) => {
          if (!c.issuer) throw new ConnectError("GetAuthConfig answered without an issuer", Code.Unavailable);
          return c.issuer;
        },
        (e: unknown) => {
          issuerPromise = undefined; // ask again next time
          throw unavailable("GetAuthConfig", e);
        },
      );
    }
    return issuerPromise;
  }

  async function verifyJwt(token: string, iss: string): Promise<TesseraPrincipal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        algorithms: ALGORITHMS,
        typ: "at+jwt",
        issuer: iss,
        audience: opts.audience ?? iss,
        clockTolerance: opts.clockToleranceSeconds ?? 60,
        currentDate: new Date(now()),
        requiredClaims: ["sub", "exp"],
      }));
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "ERR_JWT_EXPIRED") throw unauthenticated("access token expired", true);
      // The signature held, only the audience did not: say which was expected and which came (a misconfigured `audience`).
      if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && (e as { claim?: unknown }).claim === "aud") {
        const expected = [opts.audience ?? iss].flat().join(", ");
        const got = [(e as { payload?: JWTPayload }).payload?.aud ?? "none"].flat().join(", ");
        const fix = "set the interceptor's audience to Tessera's AUTH_JWT_AUDIENCE; leave it unset when that is unset";
        throw unauthenticated(`invalid access token: audience expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)} (${fix})`, true);
      }
      if (typeof code === "string" && /^ERR_(JWT|JWS|JWE)_|^ERR_JWKS_(NO|MULTIPLE)_MATCHING_KEY|^ERR_JOSE_(ALG_NOT_ALLOWED|NOT_SUPPORTED)/.test(code)) {
        throw unauthenticated("invalid access token", true);
      }
      throw unavailable("JWKS", e);
    }
    return {
      userId: payload.sub!,
      kind: "user",
      expiresAt: new Date(payload.exp! * 1000),
      sessionId: typeof payload.sid === "string" ? payload.sid : undefined,
      via: "jwt",
    };
  }

  async function introspect(token: string): Promise<Introspection> {
    try {
      const res = await tessera.checkToken({}, { headers: { authorization: `Bearer ${token}` }, timeoutMs });
      const kind = KINDS[res.principalKind];
      if (!kind || !res.userId) return { ok: false, error: unauthenticated("token not accepted by tessera", true) };
      return {
        ok: true,
        principal: {
          userId: res.userId,
          kind,
          accountId: res.accountId || undefined,
          apiKeyId: res.apiKeyId || undefined,
          expiresAt: res.expiresAt ? timestampDate(res.expiresAt) : undefined,
          via: "introspection",
        },
      };
    } catch (e) {
      const ce = ConnectError.from(e);
      if (ce.code === Code.Unauthenticated) return { ok: false, error: unauthenticated(ce.rawMessage || "invalid token", true) };
      throw unavailable("CheckToken", e);
    }
  }

  async function introspectCached(token: string): Promise<TesseraPrincipal> {
    let result: Introspection;
    if (ttl <= 0) {
      result = await introspect(token);
    } else {
      const key = await sha256(token);
      let p = cache.get(key);
      if (!p) {
        const fresh = introspect(token);
        p = fresh;
        cache.set(key, fresh, now() + ttl);
        // Transient failures are not remembered.
        fresh.catch(() => cache.deleteIf(key, fresh));
      }
      result = await p;
    }
    if (!result.ok) throw result.error;
    return result.principal;
  }

  return {
    async authenticate(authorization) {
      if (!authorization) throw unauthenticated("missing bearer token", false);
      const m = authorization.length <= MAX_TOKEN + 7 ? BEARER.exec(authorization) : null;
      if (!m) throw unauthenticated("malformed authorization header", true);
      const token = m[1]!;
      const own = findVerifier(verifiers, token);
      if (own) return runVerifier(own, token, now(), (message) => unauthenticated(message, true));
      let principal: TesseraPrincipal;
      let tesseraJwt = false;
      if (JWT_SHAPE.test(token)) {
        let claimedIss: unknown;
        try {
          claimedIss = decodeJwt(token).iss;
        } catch {
          throw unauthenticated("invalid access token", true);
        }
        tesseraJwt = claimedIss === (await issuer());
      }
      if (tesseraJwt) {
        principal = await verifyJwt(token, await issuer());
      } else {
        principal = await introspectCached(token);
      }
      if (principal.kind === "anonymous" && !opts.allowAnonymous) {
        throw unauthenticated("tessera runs without authentication (AUTH_MODE=none); pass allowAnonymous: true to accept its anonymous user", true);
      }
      // JWT expiry was checked (with clock tolerance) by jwtVerify; cached introspections are checked here.
      if (principal.via === "introspection" && principal.expiresAt && principal.expiresAt.getTime() <= now()) {
        throw unauthenticated("credential expired", true);
      }
      return principal;
    },
  };
}

/** Normalizes `/pkg.Service/Method` and `pkg.Service/Method` to `pkg.Service/Method`. */
function procedureName(p: string): string {
  return p.replace(/^\/+/, "");
}

/**
 * An interceptor that authenticates every procedure except `publicProcedures` against
 * Tessera and puts the caller under `tesseraPrincipalKey`. Missing or bad credentials
 * answer Unauthenticated (with a `WWW-Authenticate` challenge); Tessera unreachable
 * answers Unavailable. See the module comment for what is checked and cached.
 */
export function createAuthInterceptor(opts: AuthInterceptorOptions): Interceptor {
  const authenticator = createTesseraAuthenticator(opts);
  const publicSet = new Set([...(opts.publicProcedures ?? [])].map(procedureName));
  return (next) => async (req) => {
    const service = req.service.typeName;
    if (publicSet.has(`${service}/${req.method.name}`) || publicSet.has(`${service}/*`)) return next(req);
    const principal = await authenticator.authenticate(req.header.get("authorization"));
    req.contextValues.set(tesseraPrincipalKey, principal);
    return next(req);
  };
}
