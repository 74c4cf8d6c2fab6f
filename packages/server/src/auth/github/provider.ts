/**
 * A GitHub provider at run time (OAuth 2 without OpenID Connect): the authorization URL
 * (`<web>/login/oauth/authorize`, with PKCE), then the code exchanged for a user token,
 * `GET /user` (the stable numeric id is the subject, GitHub's web URL the issuer) and
 * `GET /user/emails`, of which only the PRIMARY email counts, and only as verified when
 * GitHub says so: another verified address never stands in for an unverified primary.
 * GitHub tokens are never bearer credentials for Tessera.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { GithubConfig } from "../../config/config.js";
import type { Logger } from "../../lib/logger.js";
import type { ProviderRuntime } from "../providers/types.js";
import { createGithubApi, GithubError } from "./api.js";

/** Builds one GitHub provider. */
export function createGithubProvider(config: GithubConfig, logger: Logger): ProviderRuntime {
  const api = createGithubApi(config);
  return {
    config,
    issuer: config.webUrl,
    verifier: undefined,
    ready() {},
    sendsIssParameter: () => false,
    authorizeUrl(p) {
      const url = new URL(`${config.webUrl}/login/oauth/authorize`);
      const q = url.searchParams;
      q.set("client_id", config.clientId);
      q.set("redirect_uri", p.redirectUri);
      q.set("scope", config.scopes.join(" "));
      q.set("state", p.state);
      q.set("code_challenge", p.codeChallenge);
      q.set("code_challenge_method", "S256");
      return url.toString();
    },
    async redeem(p) {
      try {
        const token = await api.exchangeCode(p.code, p.redirectUri, p.codeVerifier);
        const [user, emails] = await Promise.all([api.user(token), api.emails(token)]);
        const primary = emails.find((e) => e.primary);
        const claims = Object.freeze({
          sub: String(user.id),
          preferred_username: user.login,
          email: primary?.email,
          email_verified: primary?.verified === true,
          name: user.name ?? user.login,
          picture: user.avatarUrl ?? undefined,
        });
        return {
          issuer: config.webUrl,
          subject: String(user.id),
          profile: {
            email: primary ? primary.email.trim() : null,
            emailVerified: primary?.verified === true,
            name: user.name ?? user.login,
            image: user.avatarUrl,
          },
          claims,
        };
      } catch (e) {
        if (!(e instanceof GithubError)) throw e;
        if (e.kind === "unavailable") {
          logger.warn({ provider: config.id, reason: e.reason }, "GitHub request failed");
          throw new ConnectError("GitHub unavailable", Code.Unavailable);
        }
        p.failure("token_endpoint", { error: e.reason });
        throw new ConnectError("GitHub refused the sign-in", Code.Unauthenticated);
      }
    },
    async start() {},
    async stop() {},
  };
}
