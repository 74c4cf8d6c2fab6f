/**
 * The context key under which `createAuthInterceptor` puts the caller.
 */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

/** What kind of credential authenticated the caller; `custom` is one of the service's own verifiers. */
export type TesseraPrincipalKind = "user" | "oidc_user" | "api_key" | "anonymous" | "custom";

/** The caller of a request, as Tessera (or one of the service's own verifiers) vouches for it. */
export interface TesseraPrincipal {
  /** Tessera user id (a machine user for API keys); for `custom`, the id the service's verifier gave. */
  userId: string;
  kind: TesseraPrincipalKind;
  /** For API keys: the one account the key is scoped to. */
  accountId?: string;
  /** For API keys: the key's id. */
  apiKeyId?: string;
  /**
   * For API keys with scopes: the procedures the key may call (`@tessera/sdk` scope
   * syntax), learned from CheckToken. Undefined or empty: unrestricted. The interceptor
   * refuses calls outside them (PermissionDenied, `error="insufficient_scope"`).
   */
  scopes?: readonly string[];
  /**
   * For API keys bound to a client certificate: its SHA-256 thumbprint (RFC 8705), from
   * CheckToken. The interceptor refuses the key unless the caller's connection presented
   * that verified certificate (see `clientCertContextValues`).
   */
  clientCertThumbprint?: string;
  /** When the presented credential expires (undefined for the anonymous user). */
  expiresAt: Date | undefined;
  /** For Tessera JWTs: the session (refresh family) the token was issued in. */
  sessionId?: string;
  /** How it was established: offline JWT verification, CheckToken introspection, or one of the service's own verifiers. */
  via: "jwt" | "introspection" | "verifier";
  /** For `via: "verifier"`: the name of the verifier that accepted the credential. */
  verifier?: string;
  /** For `via: "verifier"`: what the verifier added (scopes, plan, ...). */
  attributes?: Readonly<Record<string, unknown>>;
}

/** Context key holding the authenticated caller; handlers read `ctx.values.get(tesseraPrincipalKey)`. */
export const tesseraPrincipalKey = createContextKey<TesseraPrincipal | undefined>(undefined, { description: "tessera principal" });

/** The request's principal; Unauthenticated when the procedure ran without one (a public procedure). */
export function requireTesseraPrincipal(ctx: HandlerContext): TesseraPrincipal {
  const p = ctx.values.get(tesseraPrincipalKey);
  if (!p) throw new ConnectError("authentication required", Code.Unauthenticated);
  return p;
}
