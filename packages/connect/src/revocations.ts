/**
 * What the revocation stream has said, kept in bounded memory: revoked API-key hashes,
 * sessions, signing keys, and users with the time of their revocation. The
 * authenticator asks it before accepting a cached answer or a verified token.
 */
import type { RevocationEvent } from "@tessera/sdk/proto";
import { timestampDate } from "@bufbuild/protobuf/wkt";

/** The claims of a verified Tessera access token that revocations can match. */
export interface TokenClaims {
  sub: string;
  /** `iat`, seconds (undefined: treated as issued before every revocation). */
  iat: number | undefined;
  sid: string | undefined;
  kid: string | undefined;
}

/** What one applied event asks the caches to forget. */
export type Eviction =
  | { kind: "api_key"; sha256: string }
  | { kind: "user"; userId: string }
  | { kind: "session"; sessionId: string }
  | { kind: "signing_key"; kid: string }
  | { kind: "flush" };

/** How long a revocation is remembered: as long as Tessera keeps its history (24 h). */
const REMEMBER_MS = 24 * 3600_000;

/** A bounded, insertion-ordered map whose overflow is reported, so the caller can fail safe. */
class Remembered {
  readonly map = new Map<string, { at: number; expires: number }>();
  constructor(private readonly max: number) {}
  /** Adds `key` (revoked at `at`); returns the revocation time of an entry pushed out to make room, if any. */
  add(key: string, at: number, now: number): number | undefined {
    const prev = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, { at: Math.max(at, prev?.at ?? 0), expires: now + REMEMBER_MS });
    let pushedOut: number | undefined;
    for (const [k, e] of this.map) {
      if (this.map.size <= this.max && e.expires > now) break;
      this.map.delete(k);
      if (e.expires > now) pushedOut = Math.max(pushedOut ?? 0, e.at);
    }
    return pushedOut;
  }
  get(key: string, now: number): number | undefined {
    const e = this.map.get(key);
    return e && e.expires > now ? e.at : undefined;
  }
}

/** The revocations applied so far (bounded: `max` per kind). */
export class RevocationState {
  private readonly apiKeys: Remembered;
  private readonly sessions: Remembered;
  private readonly signingKeys: Remembered;
  private readonly users: Remembered;
  /**
   * Tessera JWTs issued at or before this time (ms) are refused: set when a remembered
   * revocation had to be forgotten to stay within bounds (never in normal operation).
   */
  private floorMs = Number.NEGATIVE_INFINITY;

  constructor(
    max: number,
    private readonly now: () => number,
  ) {
    this.apiKeys = new Remembered(max);
    this.sessions = new Remembered(max);
    this.signingKeys = new Remembered(max);
    this.users = new Remembered(max);
  }

  /** Records `event` and says what the caches must forget. */
  apply(event: RevocationEvent): Eviction | undefined {
    const now = this.now();
    const at = event.createdAt ? timestampDate(event.createdAt).getTime() : now;
    const t = event.target;
    let pushedOut: number | undefined;
    let eviction: Eviction | undefined;
    switch (t.case) {
      case "apiKeySha256":
        pushedOut = this.apiKeys.add(t.value.toLowerCase(), at, now);
        eviction = { kind: "api_key", sha256: t.value.toLowerCase() };
        break;
      case "userId":
        pushedOut = this.users.add(t.value, at, now);
        eviction = { kind: "user", userId: t.value };
        break;
      case "sessionId":
        pushedOut = this.sessions.add(t.value, at, now);
        eviction = { kind: "session", sessionId: t.value };
        break;
      case "signingKeyId":
        pushedOut = this.signingKeys.add(t.value, at, now);
        eviction = { kind: "signing_key", kid: t.value };
        break;
      case "flushAll":
        eviction = t.value ? { kind: "flush" } : undefined;
        break;
      default:
        eviction = undefined; // an event kind this version does not know: ignored
    }
    if (pushedOut !== undefined) this.floorMs = Math.max(this.floorMs, pushedOut);
    return eviction;
  }

  /** Whether the API key with this SHA-256 (hex) was deleted or regenerated. */
  apiKeyRevoked(sha256: string): boolean {
    return this.apiKeys.get(sha256, this.now()) !== undefined;
  }

  /** Whether credentials of `userId` obtained at `obtainedAtMs` predate a revocation of that user. */
  userRevokedSince(userId: string, obtainedAtMs: number): boolean {
    const at = this.users.get(userId, this.now());
    return at !== undefined && obtainedAtMs <= at;
  }

  /** Why a verified Tessera access token is refused, or undefined when nothing revoked it. */
  tokenRevoked(c: TokenClaims): string | undefined {
    const now = this.now();
    const issuedMs = c.iat === undefined ? Number.NEGATIVE_INFINITY : c.iat * 1000;
    if (c.sid !== undefined && this.sessions.get(c.sid, now) !== undefined) return "session revoked";
    if (c.kid !== undefined && this.signingKeys.get(c.kid, now) !== undefined) return "signing key withdrawn";
    const userAt = this.users.get(c.sub, now);
    // `iat` has second precision: a token of the same second as the revocation is refused (the safe side).
    if (userAt !== undefined && issuedMs <= userAt) return "user's credentials revoked";
    if (issuedMs <= this.floorMs) return "issued before revocations this service had to forget; sign in again";
    return undefined;
  }
}
