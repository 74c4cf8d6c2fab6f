/**
 * What every UserAccountService handler shares: the dependencies, the audit helper
 * (actor, client IP and user agent taken from the request) and the check of the
 * caller's email against an invite's.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { AdminApiClient } from "../../auth/oidc/admin-api/index.js";
import type { UserinfoClient } from "../../auth/oidc/admin-api/userinfo.js";
import { parseBearer } from "../../auth/request/bearer.js";
import type { AuditEntry } from "../../audit/writer.js";
import { principalKey, requirePrincipal, type Principal } from "../../auth/request/principal.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { findIdentitiesByUserIds, findIdentity, findUserById } from "../../store/users.js";
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
 * Whether the caller may accept an invite sent to an email: "unverified" when only a copy
 * of it the provider has not verified matches, "unverified_link" when a password user has
 * not followed the verification link yet.
 */
export type InviteEmailVerdict = "ok" | "mismatch" | "unverified" | "unverified_link";

/** A provider user's email and whether the provider verified it. */
interface ProviderEmail {
  email: string;
  verified: boolean;
}

/**
 * The email of a caller holding a provider bearer token: the token's `email` when its
 * `email_verified` says true or false; otherwise the provider's UserInfo (asked with the
 * caller's own token), else the copy stored from earlier claims, each counted only for
 * the token's email when it has one.
 */
async function bearerEmail(deps: HandlerDeps, ctx: HandlerContext, p: Extract<Principal, { kind: "oidc_user" }>): Promise<ProviderEmail | undefined> {
  const claim = claimString(p.claims, "email");
  const said = p.claims.email_verified;
  if (claim !== undefined && (said === true || said === false)) return { email: claim, verified: said };
  const sameAsClaim = (email: string) => claim === undefined || normalizeEmail(email) === normalizeEmail(claim);
  const bearer = parseBearer(ctx.requestHeader.get("authorization"));
  if (deps.userinfo && bearer.ok) {
    try {
      const info = await deps.userinfo.email(bearer.token, p.subject);
      if (info && info.verified !== undefined && sameAsClaim(info.email)) return { email: info.email, verified: info.verified };
    } catch (e) {
      deps.logger.warn({ err: { message: (e as Error).message } }, "userinfo lookup failed; using the stored email");
    }
  }
  const identity = await findIdentity(deps.db.kysely, p.issuer, p.subject);
  if (identity?.email && sameAsClaim(identity.email)) return { email: identity.email, verified: identity.email_verified };
  return claim === undefined ? undefined : { email: claim, verified: false };
}

/**
 * Whether the caller's email is the invite's (`inviteEmail`, normalized). Provider users
 * need an email the provider reported as verified (`email_verified: true`): from the
 * bearer token (see `bearerEmail`), or, with a Tessera session after a provider login,
 * from the identity's stored claims. Password users match by the email they signed up
 * with, once they have verified it by the mailed link (issue 18).
 */
export async function checkInviteEmail(deps: HandlerDeps, ctx: HandlerContext, p: Principal, inviteEmail: string): Promise<InviteEmailVerdict> {
  const verdict = (found: ProviderEmail | undefined): InviteEmailVerdict =>
    found === undefined || normalizeEmail(found.email) !== inviteEmail ? "mismatch" : found.verified ? "ok" : "unverified";
  if (p.kind === "oidc_user") return verdict(await bearerEmail(deps, ctx, p));
  const db = deps.db.kysely;
  const user = await findUserById(db, p.userId);
  if (!user) return "mismatch";
  if (user.password_hash !== null) {
    const email = user.email_normalized ?? user.email;
    if (email === null || normalizeEmail(email) !== inviteEmail) return "mismatch";
    return user.email_verified_at !== null ? "ok" : "unverified_link";
  }
  const identities = await findIdentitiesByUserIds(db, [user.id]);
  const matching = identities.filter((i) => i.email !== null && normalizeEmail(i.email) === inviteEmail);
  if (matching.length === 0) return "mismatch";
  return matching.some((i) => i.email_verified) ? "ok" : "unverified";
}
