/**
 * The client's credentials: an API key, or access and refresh tokens kept in a
 * TokenStore and refreshed single-flight, plus the interceptor that sends them.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { accessTokenExpiry, type Tokens, type TokenStore } from "./tokens.js";

/**
 * Procedures that take no bearer: never refreshed for, never retried. AuthService's public
 * ones, and MfaService.VerifyMfa (its challenge is the credential of a sign-in in
 * progress). One exception: GetAuthorizeUrl with `link` (a signed-in user linking a
 * provider) carries it.
 */
const PUBLIC_METHODS = new Set([
  ...["GetAuthConfig", "SignUp", "Login", "RefreshToken", "Logout", "GetAuthorizeUrl", "ExchangeCode"].map((m) => `tessera.v1.AuthService/${m}`),
  "tessera.v1.MfaService/VerifyMfa",
]);

/** Refresh-token rejections after which the stored tokens are useless and cleared. */
const CLEAR_ON = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition]);

export interface CredentialsOptions {
  /** An API key (`tsk_...`): sent as the bearer, never refreshed. Wins over tokens. */
  apiKey?: string;
  tokenStore: TokenStore;
  /** Exchanges a refresh token for new tokens (AuthService.RefreshToken, without this interceptor). */
  refresh: (refreshToken: string) => Promise<Tokens>;
  /** Refresh this long before the access token's known expiry. Default 5 000 ms. */
  refreshSkewMs?: number;
  /** The current time in ms; tests pass their own. */
  now?: () => number;
}

/** A client's credentials. */
export interface Credentials {
  /** The bearer for the next call, refreshing first when the access token is known to have expired. */
  bearer(): Promise<string | undefined>;
  /**
   * The server rejected `usedAccessToken`: refresh, once for all concurrent callers.
   * Resolves with the current tokens (already refreshed by another caller, or new).
   */
  refreshAfter(usedAccessToken: string): Promise<Tokens>;
  /** Whether an Unauthenticated call may be retried after a refresh. */
  canRefresh(): Promise<boolean>;
  /** The interceptor that adds `Authorization: Bearer` and refreshes on Unauthenticated. */
  interceptor: Interceptor;
}

/** Builds the credentials manager and its interceptor. */
export function createCredentials(opts: CredentialsOptions): Credentials {
  const store = opts.tokenStore;
  const now = opts.now ?? (() => Date.now());
  const skew = opts.refreshSkewMs ?? 5_000;
  let inflight: Promise<Tokens> | undefined;

  async function refreshAfter(used: string): Promise<Tokens> {
    if (inflight) return inflight;
    const current = await store.get();
    if (inflight) return inflight; // another caller started while we read the store
    if (!current) throw new ConnectError("not signed in", Code.Unauthenticated);
    if (current.accessToken !== used) return current; // already refreshed by another caller
    const refreshToken = current.refreshToken;
    if (!refreshToken) throw new ConnectError("access token rejected and no refresh token to renew it", Code.Unauthenticated);
    const p = (async () => {
      try {
        const fresh = await opts.refresh(refreshToken);
        const next: Tokens = { ...fresh, refreshToken: fresh.refreshToken ?? refreshToken, userId: fresh.userId ?? current.userId };
        await store.set(next);
        return next;
      } catch (e) {
        const ce = ConnectError.from(e);
        if (CLEAR_ON.has(ce.code)) await store.clear();
        throw ce;
      }
    })();
    inflight = p;
    const done = () => {
      if (inflight === p) inflight = undefined;
    };
    p.then(done, done);
    return p;
  }

  async function bearer(): Promise<string | undefined> {
    if (opts.apiKey) return opts.apiKey;
    if (inflight) return (await inflight).accessToken;
    const t = await store.get();
    if (!t) return undefined;
    if (t.refreshToken) {
      const exp = accessTokenExpiry(t);
      if (t.accessToken === "" || (exp && exp.getTime() - skew <= now())) return (await refreshAfter(t.accessToken)).accessToken;
    }
    return t.accessToken || undefined;
  }

  async function canRefresh(): Promise<boolean> {
    if (opts.apiKey) return false;
    return !!(await store.get())?.refreshToken;
  }

  const interceptor: Interceptor = (next) => async (req) => {
    const linking = req.method.name === "GetAuthorizeUrl" && !req.stream && (req.message as { link?: unknown }).link === true;
    if (PUBLIC_METHODS.has(`${req.service.typeName}/${req.method.name}`) && !linking) return next(req);
    if (req.header.has("authorization")) return next(req); // the caller set its own
    const token = await bearer();
    if (token === undefined) return next(req);
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (e) {
      const original = ConnectError.from(e);
      // Streams cannot be replayed; API keys cannot be refreshed.
      if (original.code !== Code.Unauthenticated || req.stream || !(await canRefresh())) throw original;
      let fresh: Tokens;
      try {
        fresh = await refreshAfter(token);
      } catch (re) {
        const rc = ConnectError.from(re);
        throw rc.code === Code.Unauthenticated ? original : rc;
      }
      req.header.set("authorization", `Bearer ${fresh.accessToken}`);
      return next(req);
    }
  };

  return { bearer, refreshAfter, canRefresh, interceptor };
}
