/**
 * One OpenID Connect provider at run time: discovery at startup (`discovery.ts`), its own
 * key set (cached and refetched on its own: an unknown `kid` refetches at most every
 * 30 s), its bearer verifier when it has audiences (`verifier.ts`), and its half of the
 * login (`login.ts`). Users are resolved by the shared identity rules
 * (`auth/providers/identities.ts`).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createRemoteJWKSet, customFetch, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { OidcConfig } from "../../config/config.js";
import type { Clock } from "../../deps.js";
import type { Logger } from "../../lib/logger.js";
import type { ProviderRuntime } from "../providers/types.js";
import { discoverProvider, type DiscoveryOptions, type ProviderMetadata } from "./discovery.js";
import { fetchProviderUrl } from "./fetch.js";
import { createOidcLogin } from "./login.js";
import { createOidcVerifier } from "./verifier.js";

/** An unknown `kid` triggers a JWKS refetch at most this often. */
const JWKS_COOLDOWN_MS = 30_000;

/** Resolves a bearer's (issuer, subject) to a Tessera user, provisioning on first sight under the provider's rules. */
type ResolveUser = (issuer: string, subject: string, claims: JWTPayload) => Promise<{ userId: string; disabled: boolean }>;

export interface OidcProviderOptions {
  config: OidcConfig;
  logger: Logger;
  clock: Clock;
  resolveUser: ResolveUser;
  discovery?: DiscoveryOptions;
}

/** An OpenID provider at run time, with its discovered metadata. */
export type OidcProvider = ProviderRuntime & { metadata(): ProviderMetadata | undefined };

/** Builds one OpenID provider. */
export function createOidcProvider(opts: OidcProviderOptions): OidcProvider {
  const { config, logger, clock } = opts;
  let metadata: ProviderMetadata | undefined;
  let keys: JWTVerifyGetKey | undefined;

  function ready(): { metadata: ProviderMetadata; keys: JWTVerifyGetKey } {
    if (!metadata || !keys) throw new ConnectError("OpenID provider not ready", Code.Unavailable);
    return { metadata, keys };
  }
  const verifier = createOidcVerifier({ config, keys: () => keys, clock, resolveUser: opts.resolveUser });
  const login = createOidcLogin({ config, logger, clock, ready });

  return {
    config,
    issuer: config.expectedIssuer,
    // Without audiences (login only), no token of this provider is a bearer credential.
    verifier: config.audiences.length > 0 ? verifier : undefined,
    metadata: () => metadata,
    ready: () => void ready(),
    sendsIssParameter: () => ready().metadata.issParameterSupported,
    authorizeUrl: (p) => login.authorizeUrl(ready().metadata, p),
    redeem: (p) => login.redeem(p),
    async start() {
      const found = await discoverProvider(config.baseUrl, config.expectedIssuer, opts.discovery);
      const remote = createRemoteJWKSet(new URL(found.jwksUri), {
        cooldownDuration: JWKS_COOLDOWN_MS,
        cacheMaxAge: 10 * 60 * 1000,
        timeoutDuration: 5000,
        // jose never follows a redirect either ("manual"), but then reports a bare non-200: refuse it by name.
        [customFetch]: (url, init) => fetchProviderUrl(url, init),
      });
      // Warm the key set so the first request does not wait; a failure here is retried on demand.
      await remote.reload().catch((e: Error) => logger.warn({ err: { message: e.message }, provider: config.id }, "OpenID provider keys not fetched yet"));
      metadata = found;
      keys = remote;
      logger.info({ issuer: found.issuer, provider: config.id }, "OpenID provider discovered");
    },
    async stop() {
      verifier.clearCache();
    },
  };
}
