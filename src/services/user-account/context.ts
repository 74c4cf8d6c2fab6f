/**
 * What every UserAccountService handler shares: the dependencies, the audit helper
 * (actor, client IP and user agent taken from the request) and the caller's email.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { AdminApiClient } from "../../admin-api/index.js";
import type { UserinfoClient } from "../../admin-api/userinfo.js";
import { parseBearer } from "../../auth/bearer.js";
import type { AuditEntry } from "../../audit.js";
import { principalKey, requirePrincipal, type Principal } from "../../auth/principal.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../request-info.js";
import { findUserById } from "../../store/users.js";
import { normalizeEmail } from "./input.js";

/** Dependencies of the UserAccountService handlers. */
export interface HandlerDeps extends Deps {
  /** The provider admin API, when configured. */
  adminApi: AdminApiClient | undefined;
  /** The OpenID provider's UserInfo endpoint, when a provider is configured. */
  userinfo: UserinfoClient | undefined;
}

/** Records an audit event for the request's principal. Never throws, never waits. */
export function audit(deps: Deps, ctx: HandlerContext, entry: Omit<AuditEntry, "actorUserId" | "actorApiKeyId" | "request">): void {
  const p = ctx.values.get(principalKey);
  deps.audit.record({
    ...entry,
    actorUserId: p?.userId,
    actorApiKeyId: p?.kind === "api_key" ? p.apiKeyId : undefined,
    request: ctx.values.get(requestInfoKey),
  });
}

/** The principal of a request (re-exported for handlers). */
export function principalOf(ctx: HandlerContext): Principal {
  return requirePrincipal(ctx);
}

/** A claim as a non-empty string, else undefined. */
export function claimString(claims: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const v = claims[key];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * The caller's email, normalized, for matching invites: a password user's from the
 * users table; a provider user's from the token's `email` claim, else the provider's
 * UserInfo endpoint (called with the caller's own token), else the email stored when
 * the identity was provisioned. A provider that says `email_verified: false`: undefined.
 */
export async function callerEmail(deps: HandlerDeps, ctx: HandlerContext, p: Principal): Promise<string | undefined> {
  if (p.kind === "oidc_user") {
    const claim = claimString(p.claims, "email");
    if (claim) return p.claims.email_verified === false ? undefined : normalizeEmail(claim);
    const bearer = parseBearer(ctx.requestHeader.get("authorization"));
    if (deps.userinfo && bearer.ok) {
      try {
        const info = await deps.userinfo.email(bearer.token, p.subject);
        if (info) return info.verified === false ? undefined : normalizeEmail(info.email);
      } catch (e) {
        deps.logger.warn({ err: { message: (e as Error).message } }, "userinfo lookup failed; using the stored email");
      }
    }
  }
  const user = await findUserById(deps.db.kysely, p.userId);
  const email = user?.email_normalized ?? user?.email;
  return email ? normalizeEmail(email) : undefined;
}
