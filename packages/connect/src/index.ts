/**
 * Tessera for other Connect services: `createAuthInterceptor` authenticates a
 * service's callers against a Tessera server and puts the caller under
 * `tesseraPrincipalKey`.
 *
 * - Tessera access tokens (JWTs whose `iss` is Tessera's issuer) are verified offline
 *   against `<tesseraUrl>/.well-known/jwks.json` (ES256/EdDSA only, `typ` at+jwt, `iss`
 *   as Tessera announces it, `aud` as configured), once per token: the verification is
 *   remembered in a bounded cache keyed by the token's SHA-256.
 * - API keys (`tsk_...`) and every other bearer (e.g. the OpenID provider's tokens
 *   Tessera accepts) are introspected with `AuthService.CheckToken`; answers are kept in
 *   a bounded cache keyed by the token's SHA-256 (never the token itself).
 * - The service's own credentials (`verifiers`, e.g. its `sk_...` keys) are checked by
 *   the service's verifiers first; a token a verifier matches never reaches Tessera.
 *
 * With `revocation` (recommended) the interceptor subscribes to Tessera's
 * `RevocationService.WatchRevocations`: a deleted key, an ended session, a disabled
 * user, a withdrawn signing key is refused here within a second, API-key answers and
 * verified tokens are kept for the credential's whole life (no call to Tessera for a
 * warm credential), and when the stream has been silent longer than `maxStalenessMs`
 * every request is re-checked with Tessera (or refused) until it is back.
 *
 * API keys with scopes (CheckToken tells them) may call only the procedures their scopes
 * grant, read from this service's own descriptors: `(tessera.v1.scope)` options,
 * procedure names, `NO_SIDE_EFFECTS` for `:read` (see `@tessera/sdk`'s `compileScopes`).
 * Others are refused with PermissionDenied and `WWW-Authenticate: Bearer
 * error="insufficient_scope", scope="..."`. Keys with rate limits or a budget
 * (CheckToken's `per_call_limits`) are never cached: Tessera counts every call, and its
 * ResourceExhausted (with `retry-after`) is passed on.
 *
 * API keys bound to a client certificate (CheckToken's `client_cert_thumbprint`, RFC
 * 8705) are refused (Unauthenticated) unless the request's connection presented that
 * verified certificate: pass `contextValues: clientCertContextValues` to
 * `connectNodeAdapter` on a TLS server that asks for client certificates, or every
 * bound key is refused.
 *
 * Without `revocation` (the behaviour of 0.2): CheckToken answers are reused for
 * `apiKeyCacheTtlMs` (5 s), so a revoked key keeps working here for up to 5 s, and a
 * Tessera JWT keeps working until it expires even after its session ended.
 *
 * ```ts
 * const auth = createAuthInterceptor({
 *   tesseraUrl: "http://tessera:8080",
 *   publicProcedures: ["/greet.v1.GreetService/Health"],
 *   revocation: { credential: process.env.TESSERA_WATCH_KEY!, subscriberName: "greet-api" },
 * });
 * http.createServer(connectNodeAdapter({ routes, interceptors: [auth] }));
 * // in a handler: const caller = requireTesseraPrincipal(ctx);
 * // at shutdown: await auth.close();
 * ```
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { compileScopes, type ScopeSet } from "@tessera/sdk";
import { createTesseraAuthenticator, type TesseraAuthenticator } from "./authenticator.js";
import { clientCertificateKey } from "./client-cert.js";
import { certificateMismatch, insufficientScope } from "./errors.js";
import type { AuthInterceptorOptions } from "./options.js";
import { tesseraPrincipalKey, type TesseraPrincipal } from "./principal-key.js";
import type { RevocationStreamStatus } from "./revocation-watcher.js";

export { createTesseraAuthenticator, type TesseraAuthenticator } from "./authenticator.js";
export { clientCertContextValues, clientCertificateKey, clientCertificateOf, type ClientCertificate } from "./client-cert.js";
export type { AuthInterceptorOptions, RevocationOptions } from "./options.js";
export { requireTesseraPrincipal, tesseraPrincipalKey, type TesseraPrincipal, type TesseraPrincipalKind } from "./principal-key.js";
export type { RevocationStreamStatus } from "./revocation-watcher.js";
export type { CredentialVerifier, VerifiedCaller } from "./verifiers.js";

/** The interceptor, with its authenticator's revocation status and `close()` (ends the revocation stream). */
export type TesseraAuthInterceptor = Interceptor & {
  readonly authenticator: TesseraAuthenticator;
  /** The revocation stream's state, for a health check (undefined without `revocation`). */
  revocationStatus(): RevocationStreamStatus | undefined;
  /** Ends the revocation stream; call at shutdown. */
  close(): Promise<void>;
};

/** Whether the presented thumbprint is the bound one, in constant time (over SHA-256s, so lengths never leak). */
function sameThumbprint(bound: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(bound), digest(presented));
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
export function createAuthInterceptor(opts: AuthInterceptorOptions): TesseraAuthInterceptor {
  const authenticator = createTesseraAuthenticator(opts);
  const publicSet = new Set([...(opts.publicProcedures ?? [])].map(procedureName));
  /** Compiled scopes per principal (principals are cached and shared by the authenticator). */
  const compiled = new WeakMap<TesseraPrincipal, ScopeSet>();
  const interceptor: Interceptor = (next) => async (req) => {
    const service = req.service.typeName;
    if (publicSet.has(`${service}/${req.method.name}`) || publicSet.has(`${service}/*`)) return next(req);
    const principal = await authenticator.authenticate(req.header.get("authorization"));
    if (
      principal.clientCertThumbprint !== undefined &&
      !sameThumbprint(principal.clientCertThumbprint, req.contextValues.get(clientCertificateKey)?.thumbprint)
    ) {
      throw certificateMismatch();
    }
    if (principal.kind === "api_key" && principal.scopes && principal.scopes.length > 0) {
      let set = compiled.get(principal);
      if (!set) {
        set = compileScopes(principal.scopes);
        compiled.set(principal, set);
      }
      if (!set.allows(req.method)) throw insufficientScope(req.method);
    }
    req.contextValues.set(tesseraPrincipalKey, principal);
    return next(req);
  };
  return Object.assign(interceptor, {
    authenticator,
    revocationStatus: () => authenticator.revocationStatus(),
    close: () => authenticator.close(),
  });
}
