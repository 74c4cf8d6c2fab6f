/**
 * What every kind of identity provider (`oidc`, `github`) offers the shared login flow
 * and the bearer router: an authorization URL, the redemption of a code into a verified
 * identity, and (OpenID Connect with audiences) a bearer verifier for its own issuer.
 */
import type { ProviderConfig } from "../../config/config.js";
import type { ProviderProfile } from "../oidc/profile.js";
import type { CredentialVerifier } from "../request/interceptor.js";

/** Who the provider says signed in, after every check of the provider's answer. */
export interface ProviderIdentity {
  /** The identities' issuer: the OpenID issuer, or GitHub's web URL. */
  issuer: string;
  /** The provider's stable user id (`sub`, GitHub's numeric id). */
  subject: string;
  profile: ProviderProfile;
  /** The ID token's claims (for GitHub: `email`, `email_verified`, `name`, `picture` of its profile): roles, `hd` and profile updates are read from them. */
  claims: Readonly<Record<string, unknown>>;
}

/** Parameters of an authorization request the login flow has stored. */
export interface AuthorizeParams {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
}

/** Parameters of a code redemption, checked against the stored transaction by the login flow. */
export interface RedeemParams {
  code: string;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
  /** The issuer the transaction was started for. */
  issuer: string;
  /** Records a refused login (audit), with a short reason. */
  failure(reason: string, extra?: Record<string, string>): void;
  /** Records a suspected mix-up or replay under its own audit action. */
  suspicious(action: "auth.oidc.mixup" | "auth.oidc.replay", reason: string): void;
}

/** One configured provider at run time. */
export interface ProviderRuntime {
  readonly config: ProviderConfig;
  /** The issuer its identities are stored under. */
  readonly issuer: string;
  /** Its bearer verifier (OpenID providers with audiences), which answers only tokens of its issuer. */
  readonly verifier: (CredentialVerifier & { clearCache(): void }) | undefined;
  /** Throws Unavailable until started (discovery done). */
  ready(): void;
  /** RFC 9207: the provider always sends `iss` in authorization responses (so a missing one is a mix-up). */
  sendsIssParameter(): boolean;
  authorizeUrl(p: AuthorizeParams): string;
  redeem(p: RedeemParams): Promise<ProviderIdentity>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
