/**
 * The context key under which `createAuthInterceptor` puts the caller.
 */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

/** What kind of credential authenticated the caller. */
export type TesseraPrincipalKind = "user" | "oidc_user" | "api_key" | "anonymous";

/** The caller of a request, as Tessera vouches for it. */
export interface TesseraPrincipal {
  /** Tessera user id (a machine user for API keys). */
  userId: string;
  kind: TesseraPrincipalKind;
  /** For API keys: the one account the key is scoped to. */
  accountId?: string;
  /** For API keys: the key's id. */
  apiKeyId?: string;
  /** When the presented credential expires (undefined for the anonymous user). */
  expiresAt: Date | undefined;
  /** For Tessera JWTs: the session (refresh family) the token was issued in. */
  sessionId?: string;
  /** How it was established: offline JWT verification, or CheckToken introspection. */
  via: "jwt" | "introspection";
}

/** Context key holding the authenticated caller; handlers read `ctx.values.get(tesseraPrincipalKey)`. */
export const tesseraPrincipalKey = createContextKey<TesseraPrincipal | undefined>(undefined, { description: "tessera principal" });

/** The request's principal; Unauthenticated when the procedure ran without one (a public procedure). */
export function requireTesseraPrincipal(ctx: HandlerContext): TesseraPrincipal {
  const p = ctx.values.get(tesseraPrincipalKey);
  if (!p) throw new ConnectError("authentication required", Code.Unauthenticated);
  return p;
}
