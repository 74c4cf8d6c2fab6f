/**
 * Who is calling. The interceptor authenticates every non-public request and puts
 * the Principal under `principalKey`; handlers read it with `requirePrincipal(ctx)`.
 */
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { ScopeSet } from "@tessera/sdk";
import type { KeyLimits } from "../api-keys/limits.js";

/** An authenticated caller. */
export type Principal =
  | { kind: "anonymous"; userId: string }
  | {
      /** A human holding a Tessera access token. */
      kind: "user";
      userId: string;
      expiresAt: Date;
      /** The refresh family (session) the token was issued in, when known. */
      sessionId: string | undefined;
      tokenId: string;
      /** How the session was signed in (RFC 8176 `amr`; empty for tokens from before it was recorded). */
      amr: readonly string[];
      /** 2 when the sign-in passed a second factor, 1 otherwise. */
      assuranceLevel: 1 | 2;
    }
  | {
      /** A human holding an access token of the configured OpenID provider. */
      kind: "oidc_user";
      userId: string;
      issuer: string;
      subject: string;
      expiresAt: Date;
      claims: Readonly<Record<string, unknown>>;
    }
  | {
      /**
       * A machine user holding an account API key, or presenting a client certificate
       * an account mapped to a machine user (`clientCertId` set; `apiKeyId` is then the
       * mapping's id): both have the same powers, role and scope rules.
       */
      kind: "api_key";
      userId: string;
      accountId: string;
      apiKeyId: string;
      /** The key is bound to this client certificate (RFC 8705 thumbprint): refused on connections without it. */
      clientCertThumbprint?: string;
      /** Set when the caller was authenticated by its client certificate: the mapping's id. */
      clientCertId?: string;
      expiresAt: Date;
      /** The procedures the key may call (unrestricted when it has no scopes). */
      scopes: ScopeSet;
      /** Its rate limits and budget, counted on every call (undefined: none). */
      limits: KeyLimits | undefined;
    };

/** The assurance level of a caller: a session's for Tessera tokens, 1 for provider tokens, 0 for API keys and the anonymous user. */
export function assuranceLevelOf(p: Principal): number {
  if (p.kind === "user") return p.assuranceLevel;
  return p.kind === "oidc_user" ? 1 : 0;
}

/** Context key the interceptor sets for authenticated requests. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "tessera principal" });

/** The request's principal; Unauthenticated when there is none (never expected past the interceptor). */
export function requirePrincipal(ctx: HandlerContext): Principal {
  const p = ctx.values.get(principalKey);
  if (!p) throw new ConnectError("authentication required", Code.Unauthenticated);
  return p;
}
