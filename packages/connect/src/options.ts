/**
 * The options of `createAuthInterceptor` / `createTesseraAuthenticator`.
 */
import type { Transport } from "@connectrpc/connect";
import type { CredentialVerifier } from "./verifiers.js";

/** Subscribing to Tessera's revocation stream (recommended): revocations apply within a second, warm credentials cost no call to Tessera. */
export interface RevocationOptions {
  /**
   * The bearer token the stream is opened with: an API key created by an instance
   * admin with the scope `tessera.v1.RevocationService/*` (recommended), or a function
   * returning a current token (called at every reconnect and acknowledgement).
   */
  credential: string | (() => string | Promise<string>);
  /** This subscriber's name in GetRevocationStatus, e.g. "billing-api pod-7" (1-100 printable characters). Default "tessera-connect". */
  subscriberName?: string;
  /**
   * How long the stream may be silent (Tessera sends a heartbeat every second) before
   * cached answers stop being trusted, ms. Default 3 000.
   */
  maxStalenessMs?: number;
  /**
   * What to do while the stream is stale: `"recheck"` (default) asks Tessera with
   * CheckToken on every request (a round trip per request, nothing accepted on stale
   * knowledge); `"refuse"` answers Unavailable until the stream is back.
   */
  onStale?: "recheck" | "refuse";
  /** Most revocations remembered per kind (keys, users, sessions, signing keys); default 100 000. */
  maxRemembered?: number;
  /** Where stream failures are reported; default: nowhere (see `status()`). */
  log?: (message: string) => void;
}

/** Options of `createAuthInterceptor`. */
export interface AuthInterceptorOptions {
  /** Where this service reaches Tessera, e.g. `http://tessera:8080` (may differ from its public URL). */
  tesseraUrl: string;
  /**
   * Accepted `aud` of Tessera access tokens. Default: Tessera's issuer, which is
   * Tessera's own default (AUTH_JWT_AUDIENCE unset). Set it when Tessera sets
   * AUTH_JWT_AUDIENCE.
   */
  audience?: string | string[];
  /** Tessera's issuer; default: asked once with GetAuthConfig. */
  issuer?: string;
  /** Procedures that need no credentials: `/pkg.Service/Method`, `pkg.Service/Method` or `pkg.Service/*`. */
  publicProcedures?: Iterable<string>;
  /**
   * Without `revocation`: how long a CheckToken answer (API keys, other bearers) is
   * reused, ms. Default 5 000: a revoked key keeps working here for up to that long.
   * 0 disables the cache. With `revocation`, rejections are still reused this long;
   * accepted answers are kept for the credential's whole life (revocations evict them).
   */
  apiKeyCacheTtlMs?: number;
  /** Most cached answers and verified tokens (each cache); least recently used go first. Default 10 000. */
  cacheMaxEntries?: number;
  /** Accept the anonymous principal of a Tessera in AUTH_MODE=none. Default false. */
  allowAnonymous?: boolean;
  /** Deadline of every call to Tessera, ms. Default 5 000. */
  timeoutMs?: number;
  /** Allowed clock skew for `exp`/`nbf`, seconds. Default 60 (as Tessera). */
  clockToleranceSeconds?: number;
  /**
   * The service's own verifiers, tried in order before Tessera's: the first whose
   * `match(token)` is true decides, and the token never reaches Tessera. Tokens none
   * matches are Tessera's (JWTs, API keys, provider tokens).
   */
  verifiers?: readonly CredentialVerifier[];
  /** Subscribe to Tessera's revocation stream (see `RevocationOptions`). Without it: the 5 s cache above. */
  revocation?: RevocationOptions;
  /** The transport to Tessera; default Connect over `fetch` to `tesseraUrl`. */
  transport?: Transport;
  /** The current time in ms; tests pass their own. */
  now?: () => number;
}
