/**
 * OpenID Connect provider support (issue 5): bearer JWTs of the configured provider
 * (`oidc-verifier.ts`), login through it (`oidc-login.ts`), discovery at startup
 * (`oidc-discovery.ts`), and first-time provisioning of (issuer, subject) users.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createRemoteJWKSet, customFetch, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Deps, Feature } from "../../deps.js";
import { findIdentityUser, provisionIdentity } from "../../store/identities.js";
import { deleteExpiredLoginTransactions } from "../../store/login-transactions.js";
import { findIdentity, updateIdentityProfile } from "../../store/users.js";
import { fetchProviderUrl } from "./fetch.js";
import { normalizeEmail } from "../passwords/email.js";
import { discoverProvider, type DiscoveryOptions, type ProviderMetadata } from "./discovery.js";
import { createOidcLogin, type OidcLogin } from "./login.js";
import { profileFromClaims, profileOfIdentity, refreshedProfile } from "./profile.js";
import { createOidcVerifier } from "./verifier.js";
import { BoundedCache } from "../../lib/bounded-cache.js";
import type { SessionIssuer } from "../tokens/session-issuer.js";

/** An unknown `kid` triggers a JWKS refetch at most this often. */
const JWKS_COOLDOWN_MS = 30_000;
/** How long (issuer, subject) -> user (and its disabled flag) is trusted without asking the database. */
const IDENTITY_CACHE_TTL_MS = 30_000;

/** OpenID provider support: bearer verification (as a feature's verifiers) and the login flow. */
export interface OidcAuth extends Feature {
  /** The login flow; without a provider, both steps answer FailedPrecondition. */
  login: Pick<OidcLogin, "getAuthorizeUrl" | "exchangeCode">;
  /** The discovered provider metadata (after start). */
  metadata(): ProviderMetadata | undefined;
}

export interface OidcAuthOptions {
  discovery?: DiscoveryOptions;
}

/** Builds OpenID provider support; without `config.oidc` it only answers FailedPrecondition. */
export function createOidcAuth(deps: Deps, sessions: SessionIssuer, options: OidcAuthOptions = {}): OidcAuth {
  const config = deps.config.oidc;
  if (!config) {
    const off = () => {
      throw new ConnectError("no OpenID provider configured", Code.FailedPrecondition);
    };
    return { verifiers: [], login: { getAuthorizeUrl: off, exchangeCode: off }, metadata: () => undefined };
  }

  let metadata: ProviderMetadata | undefined;
  let keys: JWTVerifyGetKey | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  const users = new BoundedCache<string, { userId: string; disabled: boolean; at: number }>({ maxEntries: 50_000 });
  async function resolveUser(issuer: string, subject: string, claims: JWTPayload) {
    const key = `${issuer}\u0000${subject}`;
    const now = deps.clock().getTime();
    const hit = users.get(key);
    // Follows the server clock (tests move it); a clock moved backwards also refreshes.
    if (hit && now >= hit.at && now - hit.at < IDENTITY_CACHE_TTL_MS) return hit;
    const found = (await findIdentityUser(deps.db.kysely, issuer, subject)) ?? (await provision(issuer, subject, claims));
    const entry = { ...found, at: now };
    users.set(key, entry);
    return entry;
  }
  async function provision(issuer: string, subject: string, claims: JWTPayload) {
    const r = await provisionIdentity(deps.db.kysely, issuer, subject, profileFromClaims(claims));
    if (r.created) {
      deps.audit.record({ action: "auth.oidc.user_provisioned", actorUserId: r.userId, metadata: { issuer } });
      deps.logger.info({ userId: r.userId }, "provisioned user for OpenID identity");
    }
    return r;
  }
  async function refreshProfile(issuer: string, subject: string, claims: JWTPayload) {
    // The ID token's email (and email_verified, which invites require) replaces the stored copy.
    const identity = await findIdentity(deps.db.kysely, issuer, subject);
    const profile = identity && refreshedProfile(profileOfIdentity(identity), claims);
    if (identity && profile) await updateIdentityProfile(deps.db.kysely, identity, profile, profile.email ? normalizeEmail(profile.email) : null);
  }
  async function linkIdentity(issuer: string, subject: string, claims: JWTPayload) {
    // A login always asks the database (fresh disabled flag), then refreshes the cache.
    const existing = await findIdentityUser(deps.db.kysely, issuer, subject);
    if (existing) await refreshProfile(issuer, subject, claims);
    const found = existing ?? (await provision(issuer, subject, claims));
    users.set(`${issuer}\u0000${subject}`, { ...found, at: deps.clock().getTime() });
    return found;
  }

  const verifier = createOidcVerifier({ config, keys: () => keys, clock: deps.clock, resolveUser });
  const login = createOidcLogin({ deps, config, sessions, metadata: () => metadata, keys: () => keys, linkIdentity });

  return {
    // Without AUTH_AUDIENCE (login only), no provider token is a bearer credential.
    verifiers: config.audiences.length > 0 ? [verifier] : [],
    login,
    metadata: () => metadata,
    async start() {
      metadata = await discoverProvider(config.baseUrl, config.expectedIssuer, options.discovery);
      const remote = createRemoteJWKSet(new URL(metadata.jwksUri), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        cacheMaxAge: 10 * 60 * 1000,
        timeoutDuration: 5000,
        // jose never follows a redirect either ("manual"), but then reports a bare non-200: refuse it by name.
        [customFetch]: (url, init) => fetchProviderUrl(url, init),
      });
      // Warm the key set so the first request does not wait; a failure here is retried on demand.
      await remote.reload().catch((e: Error) => deps.logger.warn({ err: { message: e.message } }, "OpenID provider keys not fetched yet"));
      keys = remote;
      deps.logger.info({ issuer: metadata.issuer }, "OpenID provider discovered");
      sweeper = setInterval(
        () => {
          deleteExpiredLoginTransactions(deps.db.kysely, new Date(deps.clock().getTime() - 60 * 60 * 1000)).catch(() => {});
        },
        15 * 60 * 1000,
      );
      sweeper.unref();
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      verifier.clearCache();
      users.clear();
    },
  };
}
