/**
 * The identity rules of every provider: who an (issuer, subject) is, when a new user is
 * made, and when a login links instead. Never links by email: a first sign-in whose
 * verified email belongs to an existing user is refused with a message telling the user
 * to sign in and link; linking happens only in a login started by the signed-in user
 * (the login transaction carries it). Roles from a provider claim set the
 * instance-admin flag at every sign-in (and every bearer resolution) of that provider.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { ProviderConfig } from "../../config/config.js";
import type { Deps } from "../../deps.js";
import { BoundedCache } from "../../lib/bounded-cache.js";
import type { RequestInfo } from "../../lib/request-info.js";
import { findIdentityUser, findUserIdByEmail, linkIdentityToUser, provisionIdentity, setInstanceAdminFlag } from "../../store/identities.js";
import { findIdentity, updateIdentityProfile } from "../../store/users.js";
import { profileFromClaims, profileOfIdentity, refreshedProfile } from "../oidc/profile.js";
import { normalizeEmail } from "../passwords/email.js";
import { admissionRefusal } from "./admission.js";
import { claimHasRole } from "./roles.js";
import type { ProviderIdentity } from "./types.js";

/** How long (issuer, subject) -> user (and its disabled flag) is trusted without asking the database. */
const IDENTITY_CACHE_TTL_MS = 30_000;

/** A user found for an identity. */
interface IdentityUserStatus {
  userId: string;
  disabled: boolean;
}

/** The identity rules, shared by the bearer verifiers and the login flow. */
export interface IdentityLinker {
  /** A bearer's user: cached 30 s; provisioned on first sight under the provider's rules. */
  resolveBearer(provider: ProviderConfig, issuer: string, subject: string, claims: Readonly<Record<string, unknown>>): Promise<IdentityUserStatus>;
  /** A login's user: linked to `linkUserId` when given, else found or provisioned. */
  signIn(provider: ProviderConfig, identity: ProviderIdentity, linkUserId: string | null, request: RequestInfo): Promise<IdentityUserStatus>;
  /** Forgets cached resolutions (stop, unlink). */
  clear(): void;
}

/** Builds the identity rules over the database. */
export function createIdentityLinker(deps: Deps): IdentityLinker {
  const { db, audit, logger, clock } = deps;
  const cache = new BoundedCache<string, IdentityUserStatus & { at: number }>({ maxEntries: 50_000 });
  const key = (issuer: string, subject: string) => `${issuer}\u0000${subject}`;

  function refuse(provider: ProviderConfig, identity: ProviderIdentity, request: RequestInfo | undefined, via: "login" | "bearer"): void {
    const refusal = admissionRefusal(provider, identity.profile, identity.claims);
    if (!refusal) return;
    audit.record({ action: "auth.oidc_login.failure", request, metadata: { reason: refusal.reason, provider: provider.id, via } });
    throw new ConnectError(refusal.message, Code.PermissionDenied);
  }

  async function syncRoles(provider: ProviderConfig, userId: string, claims: Readonly<Record<string, unknown>>): Promise<void> {
    if (!provider.roles) return;
    const admin = claimHasRole(claims, provider.roles.claim, provider.roles.adminValue);
    if (await setInstanceAdminFlag(db.kysely, userId, admin)) {
      audit.record({ action: admin ? "user.instance_admin.granted" : "user.instance_admin.revoked", actorUserId: userId, metadata: { provider: provider.id } });
    }
  }

  async function provisionNew(provider: ProviderConfig, identity: ProviderIdentity, request: RequestInfo | undefined): Promise<IdentityUserStatus> {
    const { profile } = identity;
    if (profile.email !== null && profile.emailVerified) {
      const owner = await findUserIdByEmail(db.kysely, normalizeEmail(profile.email));
      if (owner !== undefined) {
        audit.record({ action: "auth.oidc_login.failure", request, metadata: { reason: "email_belongs_to_user", provider: provider.id } });
        throw new ConnectError(
          `an account with the email of this ${provider.name} account already exists: sign in to it, then link ${provider.name} from your account page`,
          Code.FailedPrecondition,
        );
      }
    }
    const r = await provisionIdentity(db.kysely, identity.issuer, identity.subject, profile, provider.id);
    if (r.created) {
      audit.record({ action: "auth.oidc.user_provisioned", actorUserId: r.userId, metadata: { issuer: identity.issuer, provider: provider.id } });
      logger.info({ userId: r.userId, provider: provider.id }, "provisioned user for provider identity");
    }
    return r;
  }

  async function refreshProfile(identity: ProviderIdentity): Promise<void> {
    // The provider's email (and whether it is verified, which invites require) replaces the stored copy.
    const stored = await findIdentity(db.kysely, identity.issuer, identity.subject);
    if (!stored) return;
    const next = refreshedProfile(profileOfIdentity(stored), identity.claims);
    if (next) await updateIdentityProfile(db.kysely, stored, next, next.email ? normalizeEmail(next.email) : null);
  }

  return {
    async resolveBearer(provider, issuer, subject, claims) {
      const k = key(issuer, subject);
      const now = clock().getTime();
      const identity: ProviderIdentity = { issuer, subject, profile: profileFromClaims(claims), claims };
      // The provider's rules (domains, verified email, hd) hold for every token that says
      // who it is for, not only the first: a narrowed allow-list applies to existing users.
      if (typeof claims.email === "string") refuse(provider, identity, undefined, "bearer");
      const hit = cache.get(k);
      // Follows the server clock (tests move it); a clock moved backwards also refreshes.
      if (hit && now >= hit.at && now - hit.at < IDENTITY_CACHE_TTL_MS) return hit;
      let found = await findIdentityUser(db.kysely, issuer, subject);
      if (!found) {
        refuse(provider, identity, undefined, "bearer");
        found = await provisionNew(provider, identity, undefined);
      }
      await syncRoles(provider, found.userId, claims);
      const entry = { userId: found.userId, disabled: found.disabled, at: now };
      cache.set(k, entry);
      return entry;
    },

    async signIn(provider, identity, linkUserId, request) {
      refuse(provider, identity, request, "login");
      // A login always asks the database (fresh disabled flag), then refreshes the cache.
      const existing = await findIdentityUser(db.kysely, identity.issuer, identity.subject);
      let user: IdentityUserStatus;
      if (linkUserId !== null) {
        if (existing && existing.userId !== linkUserId) {
          audit.record({
            action: "auth.identity.link.failure",
            actorUserId: linkUserId,
            request,
            metadata: { reason: "linked_to_other_user", provider: provider.id },
          });
          throw new ConnectError(`this ${provider.name} account is already linked to another user`, Code.AlreadyExists);
        }
        if (!existing) {
          const linked = await linkIdentityToUser(db.kysely, linkUserId, identity.issuer, identity.subject, identity.profile, provider.id);
          const owner = linked ? undefined : await findIdentityUser(db.kysely, identity.issuer, identity.subject);
          if (!linked && owner?.userId !== linkUserId) {
            audit.record({
              action: "auth.identity.link.failure",
              actorUserId: linkUserId,
              request,
              metadata: { reason: "linked_to_other_user", provider: provider.id },
            });
            throw new ConnectError(`this ${provider.name} account is already linked to another user`, Code.AlreadyExists);
          }
          if (linked) audit.record({ action: "auth.identity.link.success", actorUserId: linkUserId, request, metadata: { provider: provider.id } });
        } else {
          await refreshProfile(identity);
        }
        user = (await findIdentityUser(db.kysely, identity.issuer, identity.subject)) ?? { userId: linkUserId, disabled: false };
      } else if (existing) {
        await refreshProfile(identity);
        user = existing;
      } else {
        user = await provisionNew(provider, identity, request);
      }
      await syncRoles(provider, user.userId, identity.claims);
      cache.set(key(identity.issuer, identity.subject), { ...user, at: clock().getTime() });
      return user;
    },

    clear: () => cache.clear(),
  };
}
