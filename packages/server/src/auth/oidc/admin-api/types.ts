/**
 * What Tessera asks of an OpenID provider's admin API: a user's current profile.
 */

/** A provider user's profile as its admin API reports it. */
export interface AdminUser {
  /** The provider's user id (the `sub` of its tokens). */
  id: string;
  email: string | undefined;
  name: string | undefined;
  picture: string | undefined;
}

/** A client of a provider admin API. */
export interface AdminApiClient {
  /**
   * The user's profile, or undefined when the provider does not know the user.
   * Throws on transport or authorization failures (callers fall back to stored claims).
   */
  getUser(subject: string): Promise<AdminUser | undefined>;
}

/** Options shared by the admin API clients. */
export interface AdminApiClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** `fetch` to use (tests); defaults to the global one. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests pass a controllable clock). */
  now?: () => number;
  /** How long a user lookup is cached, ms (default 60 000). */
  userCacheTtlMs?: number;
  /** Most users cached at once (default 1000). */
  userCacheMax?: number;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
}
