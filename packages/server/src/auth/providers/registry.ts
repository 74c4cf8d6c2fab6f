/**
 * Every configured identity provider at run time (issue 17): one runtime per provider
 * (`auth/oidc/provider.ts`, `auth/github/provider.ts`), one bearer verifier that routes
 * a JWT by its (unverified) `iss` to the one provider of that issuer, which then checks
 * it with its own keys and rules only (a token of issuer A is never tried with B's keys),
 * the shared login flow (`login-flow.ts`) and identity rules (`identities.ts`).
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import type { ProviderConfig } from "../../config/config.js";
import type { Deps, Feature } from "../../deps.js";
import { deleteExpiredLoginTransactions } from "../../store/login-transactions.js";
import { createGithubProvider } from "../github/provider.js";
import type { DiscoveryOptions, ProviderMetadata } from "../oidc/discovery.js";
import { createOidcProvider, type OidcProvider } from "../oidc/provider.js";
import type { CredentialVerifier } from "../request/interceptor.js";
import type { MfaSignIn } from "../mfa/challenges.js";
import type { SessionIssuer } from "../tokens/session-issuer.js";
import { createIdentityLinker, type IdentityLinker } from "./identities.js";
import { createLoginFlow, type AuthorizeRequest, type ExchangeRequest, type LoginFlow } from "./login-flow.js";
import type { ProviderRuntime } from "./types.js";

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Identity providers: bearer verification (as a feature's verifiers), the login flow, the identity rules. */
export interface ProviderAuth extends Feature {
  /** The login flow; without providers, both steps answer FailedPrecondition. */
  login: {
    getAuthorizeUrl(req: AuthorizeRequest, ctx: HandlerContext, linkUserId?: string | null): Promise<{ url: string }>;
    exchangeCode(req: ExchangeRequest, ctx: HandlerContext): ReturnType<LoginFlow["exchangeCode"]>;
  };
  /** The configured providers, in sign-in order. */
  list(): readonly ProviderConfig[];
  /** The issuers whose identities can sign in (configured providers). */
  issuers(): readonly string[];
  /** The identity rules (also used to forget cached users after an unlink). */
  identities: IdentityLinker;
  /** The discovered metadata of an OpenID provider (after start); `default` when no id is given. */
  metadata(id?: string): ProviderMetadata | undefined;
}

export interface ProviderAuthOptions {
  discovery?: DiscoveryOptions;
  /** Asks users with a second factor for it before a provider login gets tokens. */
  mfa?: Pick<MfaSignIn, "challengeFor">;
}

/** Builds every configured provider. */
export function createProviderAuth(deps: Deps, sessions: SessionIssuer, options: ProviderAuthOptions = {}): ProviderAuth {
  const configs = deps.config.providers;
  const identities = createIdentityLinker(deps);
  const runtimes: ProviderRuntime[] = configs.map((config) =>
    config.kind === "oidc"
      ? createOidcProvider({
          config,
          logger: deps.logger,
          clock: deps.clock,
          discovery: options.discovery,
          resolveUser: (issuer, subject, claims) => identities.resolveBearer(config, issuer, subject, claims),
        })
      : createGithubProvider(config, deps.logger),
  );
  const byId = new Map(runtimes.map((r) => [r.config.id, r]));
  const byIssuer = new Map(runtimes.filter((r) => r.verifier !== undefined).map((r) => [r.issuer, r.verifier!]));

  function provider(id: string): ProviderRuntime {
    if (runtimes.length === 0) throw new ConnectError("no OpenID provider configured", Code.FailedPrecondition);
    if (id === "") {
      const chosen = byId.get("default") ?? (runtimes.length === 1 ? runtimes[0] : undefined);
      if (!chosen) throw new ConnectError(`provider_id is required: one of ${[...byId.keys()].join(", ")}`, Code.InvalidArgument);
      return chosen;
    }
    const found = byId.get(id);
    if (!found) throw new ConnectError(`unknown provider_id "${id.slice(0, 64)}"`, Code.InvalidArgument);
    return found;
  }

  const flow = createLoginFlow({ deps, sessions, identities, provider, byId: (id) => byId.get(id), mfa: options.mfa });

  // One verifier for every issuer: the token's `iss` picks the provider, whose verifier alone decides.
  const router: CredentialVerifier = {
    async verify(token) {
      if (token.startsWith("tsk_") || !JWT_SHAPE.test(token)) return undefined;
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch {
        return undefined;
      }
      const verifier = typeof iss === "string" ? byIssuer.get(iss) : undefined;
      return verifier ? verifier.verify(token) : undefined;
    },
  };

  let sweeper: NodeJS.Timeout | undefined;
  const off = () => {
    throw new ConnectError("no OpenID provider configured", Code.FailedPrecondition);
  };

  return {
    verifiers: byIssuer.size > 0 ? [router] : [],
    login: runtimes.length === 0 ? { getAuthorizeUrl: off, exchangeCode: off } : flow,
    list: () => configs,
    issuers: () => runtimes.map((r) => r.issuer),
    identities,
    metadata: (id = "default") => (byId.get(id) as OidcProvider | undefined)?.metadata?.(),
    async start() {
      if (runtimes.length === 0) return;
      // Discovery of every provider at once: a provider that cannot be discovered stops startup, naming it.
      await Promise.all(
        runtimes.map((r) =>
          r.start().catch((e: Error) => {
            throw Object.assign(new Error(`provider "${r.config.id}": ${e.message}`), { cause: e });
          }),
        ),
      );
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
      for (const r of runtimes) await r.stop();
      identities.clear();
    },
  };
}
