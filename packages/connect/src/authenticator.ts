/**
 * The authenticator behind `createAuthInterceptor`: the service's own verifiers first,
 * then Tessera's credentials, with two bounded caches keyed by the SHA-256 of the
 * token (never the token): verified Tessera JWTs, and CheckToken answers. With the
 * revocation stream, both are kept for the credential's life and evicted by its events;
 * without it, CheckToken answers live `apiKeyCacheTtlMs` (5 s).
 */
import { createHash } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createRemoteJWKSet, decodeJwt } from "jose";
import { webTransport } from "@tessera/sdk";
import { AuthService, PrincipalKind } from "@tessera/sdk/proto";
import { keyLimited, unauthenticated, unavailable } from "./errors.js";
import type { AuthInterceptorOptions } from "./options.js";
import type { TesseraPrincipal, TesseraPrincipalKind } from "./principal-key.js";
import { RevocationWatcher, type RevocationStreamStatus } from "./revocation-watcher.js";
import { RevocationState, type Eviction } from "./revocations.js";
import { verifyTesseraJwt, type VerifiedJwt } from "./tessera-jwt.js";
import { TtlCache } from "./ttl-cache.js";
import { findVerifier, runVerifier } from "./verifiers.js";

/** Authenticates an `Authorization` header value against Tessera. */
export interface TesseraAuthenticator {
  /** The caller, or a ConnectError: Unauthenticated (bad credentials) or Unavailable (Tessera unreachable). */
  authenticate(authorization: string | null | undefined): Promise<TesseraPrincipal>;
  /** The revocation stream's state (undefined without the `revocation` option). */
  revocationStatus(): RevocationStreamStatus | undefined;
  /** Closes the revocation stream (if any). */
  close(): Promise<void>;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;
const MAX_TOKEN = 16 * 1024;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Without the stream, a verified JWT is reused at most this long (as long as jose caches the JWKS). */
const LEGACY_JWT_REUSE_MS = 10 * 60_000;

const KINDS: Partial<Record<PrincipalKind, TesseraPrincipalKind>> = {
  [PrincipalKind.USER]: "user",
  [PrincipalKind.OIDC_USER]: "oidc_user",
  [PrincipalKind.API_KEY]: "api_key",
  [PrincipalKind.ANONYMOUS]: "anonymous",
};

/** `perCall`: the key has limits Tessera must count on every call (never reused). */
type Introspection = { ok: true; principal: TesseraPrincipal; perCall: boolean } | { ok: false; error: ConnectError };
/** A CheckToken answer, in flight (`result` unset) or settled; `obtainedAt` is when it was asked. */
interface Answer {
  promise: Promise<Introspection>;
  result?: Introspection;
  obtainedAt: number;
}
type Mode = "legacy" | "live" | "recheck" | "refuse";

function sha256(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Builds the authenticator behind `createAuthInterceptor` (usable outside Connect too). */
export function createTesseraAuthenticator(opts: AuthInterceptorOptions): TesseraAuthenticator {
  const base = opts.tesseraUrl.replace(/\/+$/, "");
  const now = opts.now ?? (() => Date.now());
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const ttl = opts.apiKeyCacheTtlMs ?? 5_000;
  const tolerance = opts.clockToleranceSeconds ?? 60;
  const transport = opts.transport ?? webTransport({ baseUrl: base, protocol: "connect" });
  const verifiers = [...(opts.verifiers ?? [])];
  const tessera = createClient(AuthService, transport);
  const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`), { timeoutDuration: timeoutMs });
  const maxEntries = opts.cacheMaxEntries ?? 10_000;
  const answers = new TtlCache<Answer>(maxEntries, now);
  const jwts = new TtlCache<VerifiedJwt>(maxEntries, now);

  const rev = opts.revocation;
  const revocations = rev ? new RevocationState(rev.maxRemembered ?? 100_000, now) : undefined;
  /** When the caches were last flushed by the stream (answers obtained before are not kept). */
  let flushedAt = Number.NEGATIVE_INFINITY;
  const evict = (e: Eviction) => {
    switch (e.kind) {
      case "api_key":
        answers.delete(e.sha256);
        break;
      case "user":
        // Settled answers of that user, and every answer still in flight (whose user is not known yet).
        answers.deleteWhere((a) => !a.result || (a.result.ok && a.result.principal.userId === e.userId));
        jwts.deleteWhere((j) => j.claims.sub === e.userId);
        break;
      case "session":
      case "signing_key":
        break; // checked on every use (RevocationState.tokenRevoked)
      case "flush":
        flush();
    }
  };
  function flush() {
    answers.clear();
    jwts.clear();
    flushedAt = now();
  }
  const credential = rev
    ? typeof rev.credential === "function"
      ? rev.credential
      : (
          (c: string) => () =>
            c
        )(rev.credential)
    : undefined;
  const watcher =
    rev && revocations && credential
      ? new RevocationWatcher({
          transport,
          credential,
          subscriberName: rev.subscriberName ?? "tessera-connect",
          maxStalenessMs: rev.maxStalenessMs ?? 3_000,
          now,
          apply: (ev) => {
            const e = revocations.apply(ev);
            if (e) evict(e);
          },
          reset: flush,
          log: rev.log,
        })
      : undefined;
  watcher?.start();
  const onStale = rev?.onStale ?? "recheck";

  /** Since when every revocation reaches here (answers obtained later are kept for their life). */
  const coveredSince = () => Math.max(watcher?.coveredSince() ?? Number.POSITIVE_INFINITY, flushedAt);

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
          scopes: res.scopes.length > 0 ? Object.freeze([...res.scopes]) : undefined,
          clientCertThumbprint: res.clientCertThumbprint || undefined,
          via: "introspection",
        },
        perCall: res.perCallLimits,
      };
    } catch (e) {
      const ce = ConnectError.from(e);
      if (ce.code === Code.Unauthenticated) return { ok: false, error: unauthenticated(ce.rawMessage || "invalid token", true) };
      // The key's own rate limit or budget: the caller's answer, with Tessera's retry-after.
      if (ce.code === Code.ResourceExhausted) throw keyLimited(ce);
      throw unavailable("CheckToken", e);
    }
  }

  /** How long a settled answer is kept: for its life when the stream covers it, else `ttl`. */
  function keepUntil(a: Answer, r: Introspection, mode: Mode): number {
    if (r.ok && r.perCall) return 0; // counted by Tessera on every call: never reused
    if (r.ok && mode === "live" && a.obtainedAt >= coveredSince()) return r.principal.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    return a.obtainedAt + ttl;
  }

  async function introspectCached(token: string, hash: string, mode: Mode): Promise<TesseraPrincipal> {
    let result: Introspection;
    if (mode === "recheck" || (mode === "legacy" && ttl <= 0)) {
      result = await introspect(token);
    } else {
      let a = answers.get(hash);
      let mine = false;
      if (!a) {
        mine = true;
        const obtainedAt = now();
        const fresh: Answer = { promise: introspect(token), obtainedAt };
        a = fresh;
        // While in flight: shared by concurrent requests for the same token.
        answers.set(hash, fresh, obtainedAt + Math.max(ttl, timeoutMs));
        fresh.promise.then(
          (r) => {
            fresh.result = r;
            const until = keepUntil(fresh, r, mode);
            if (until > now()) answers.extendIf(hash, fresh, until);
            else answers.deleteIf(hash, fresh);
          },
          () => answers.deleteIf(hash, fresh), // transient failures are not remembered
        );
      }
      result = await a.promise;
      // A key Tessera counts per call: a request that joined another's CheckToken asks for itself.
      if (result.ok && result.perCall && !mine) result = await introspect(token);
    }
    if (!result.ok) throw result.error;
    return result.principal;
  }

  /** A Tessera JWT, verified once and then reused (until `exp` with the stream). */
  async function tesseraJwt(token: string, hash: string, mode: Mode): Promise<VerifiedJwt | undefined> {
    const cached = jwts.get(hash);
    if (cached) return cached;
    if (!JWT_SHAPE.test(token)) return undefined;
    let claimedIss: unknown;
    try {
      claimedIss = decodeJwt(token).iss;
    } catch {
      throw unauthenticated("invalid access token", true);
    }
    const iss = await issuer();
    if (claimedIss !== iss) return undefined;
    const v = await verifyTesseraJwt(token, { jwks, issuer: iss, audience: opts.audience, clockToleranceSeconds: tolerance, nowMs: now() });
    const why = revocations?.tokenRevoked(v.claims);
    if (why) throw unauthenticated(`access token revoked (${why})`, true);
    if (mode === "legacy") {
      jwts.set(hash, v, Math.min(v.validUntilMs, now() + LEGACY_JWT_REUSE_MS));
      return v;
    }
    // Issued before the stream covered revocations: its session may have ended unseen; Tessera says once.
    const issuedMs = v.claims.iat === undefined ? Number.NEGATIVE_INFINITY : v.claims.iat * 1000;
    if (mode === "live" && issuedMs <= coveredSince() + tolerance * 1000) {
      const checkedAt = now();
      const r = await introspect(token);
      if (!r.ok) throw r.error;
      if (checkedAt < coveredSince()) return v; // flushed meanwhile: not kept
    }
    if (mode === "live") jwts.set(hash, v, v.validUntilMs);
    return v;
  }

  function modeNow(): Mode {
    if (!watcher) return "legacy";
    if (watcher.live()) return "live";
    return onStale;
  }

  return {
    async authenticate(authorization) {
      if (!authorization) throw unauthenticated("missing bearer token", false);
      const m = authorization.length <= MAX_TOKEN + 7 ? BEARER.exec(authorization) : null;
      if (!m) throw unauthenticated("malformed authorization header", true);
      const token = m[1]!;
      const own = findVerifier(verifiers, token);
      if (own) return runVerifier(own, token, now(), (message) => unauthenticated(message, true));
      const mode = modeNow();
      if (mode === "refuse") {
        throw new ConnectError("tessera's revocation stream is down: refusing credentials until it is back (onStale: refuse)", Code.Unavailable);
      }
      const hash = sha256(token);
      if (revocations?.apiKeyRevoked(hash)) throw unauthenticated("credential revoked", true);
      let principal: TesseraPrincipal;
      const jwt = await tesseraJwt(token, hash, mode);
      if (jwt) {
        const why = revocations?.tokenRevoked(jwt.claims);
        if (why) throw unauthenticated(`access token revoked (${why})`, true);
        if (jwt.validUntilMs <= now()) throw unauthenticated("access token expired", true);
        if (mode === "recheck") {
          const r = await introspect(token);
          if (!r.ok) throw r.error;
        }
        principal = jwt.principal;
      } else {
        principal = await introspectCached(token, hash, mode);
      }
      if (principal.kind === "anonymous" && !opts.allowAnonymous) {
        throw unauthenticated("tessera runs without authentication (AUTH_MODE=none); pass allowAnonymous: true to accept its anonymous user", true);
      }
      // JWT expiry was checked (with clock tolerance) above; cached introspections are checked here.
      if (principal.via === "introspection" && principal.expiresAt && principal.expiresAt.getTime() <= now()) {
        throw unauthenticated("credential expired", true);
      }
      return principal;
    },
    revocationStatus: () => watcher?.status(),
    close: async () => {
      await watcher?.close();
    },
  };
}
