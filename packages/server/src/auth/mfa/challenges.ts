/**
 * MFA challenges: a sign-in of a user with TOTP (password, or a provider when
 * AUTH_MFA_FOR_PROVIDER_LOGINS) stops before tokens and answers a challenge instead:
 * `tsm_` + 256 random bits, stored as SHA-256, 5 minutes, 5 tries, single use. VerifyMfa
 * completes it: the try is counted first (one conditional UPDATE, so concurrent guesses
 * cannot pass the limit), then, in one transaction, the challenge is used and the factor
 * is used; a wrong factor rolls both back. The session starts through the same
 * SessionIssuer every sign-in ends in, with the first factor's `amr` plus `otp` (TOTP)
 * and `mfa`, at assurance level 2.
 */
import { createHash, randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Deps, Feature } from "../../deps.js";
import type { RequestInfo } from "../../lib/request-info.js";
import { countChallengeTry, deleteExpiredChallenges, findLiveChallengeUser, hasConfirmedTotp, insertChallenge, useChallenge } from "../../store/mfa.js";
import { findUserStatus } from "../../store/users.js";
import type { MfaChallengeRow } from "../../store/schema.js";
import type { IssuedTokens, SessionIssuer } from "../tokens/session-issuer.js";
import { type FactorFailure, mfaNotConfigured, useRecovery, useTotpCode } from "./factors.js";
import type { MfaKeys } from "./secret-box.js";

/** How long a challenge lives. */
const CHALLENGE_TTL_MS = 5 * 60_000;
/** Tries per challenge; then it is dead. */
const CHALLENGE_MAX_TRIES = 5;
const CHALLENGE_RE = /^tsm_[A-Za-z0-9_-]{43}$/;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1000;
/** Expired challenges are kept this long (for support), then deleted. */
const KEEP_AFTER_EXPIRY_MS = 60 * 60_000;

const sha256Hex = (v: string) => createHash("sha256").update(v, "utf8").digest("hex");

/** The `tessera.v1.MfaChallenge` message. */
export interface WireChallenge {
  challenge: string;
  methods: string[];
  expiresAt: ReturnType<typeof timestampFromDate>;
}

/** What VerifyMfa brings. */
interface VerifyInput {
  challenge: string;
  code: string;
  recoveryCode: string;
}

/** A completed sign-in. */
interface Verified {
  userId: string;
  tokens: IssuedTokens;
  method: "totp" | "recovery_code";
  challenge: MfaChallengeRow;
}

export interface MfaSignIn extends Feature {
  /** The encryption keys; undefined when MFA is not configured. */
  readonly keys: MfaKeys | undefined;
  /**
   * For a user with TOTP on, after the first factor: a challenge instead of tokens;
   * undefined when the user has no second factor (or, for provider logins, when
   * AUTH_MFA_FOR_PROVIDER_LOGINS is off).
   */
  challengeFor(userId: string, first: "pwd" | "fed", request: RequestInfo, providerId?: string): Promise<WireChallenge | undefined>;
  /**
   * VerifyMfa. `beforeTry` runs once the challenge is known to be live, with its user
   * (the per-user limit). Wrong factors are audited and answered InvalidArgument; a dead
   * challenge NotFound.
   */
  verify(input: VerifyInput, request: RequestInfo, beforeTry: (userId: string) => Promise<void>): Promise<Verified>;
  /** Deletes long-expired challenges, one bounded batch. */
  sweep(): Promise<number>;
}

const DEAD_CHALLENGE = "unknown, used or expired MFA challenge, or it ran out of tries: sign in again";

/** Thrown inside the transaction to roll back the use of the challenge. */
class FactorRefused extends Error {
  constructor(readonly reason: FactorFailure) {
    super(reason);
  }
}

/** Builds MFA sign-in over the sessions every sign-in uses. */
export function createMfaSignIn(
  deps: Pick<Deps, "db" | "clock" | "audit" | "config" | "logger">,
  sessions: SessionIssuer,
  keys: MfaKeys | undefined,
): MfaSignIn {
  const { clock, audit, config, logger } = deps;
  const db = deps.db.kysely;
  let timer: NodeJS.Timeout | undefined;

  async function challengeFor(userId: string, first: "pwd" | "fed", request: RequestInfo, providerId?: string): Promise<WireChallenge | undefined> {
    if (first === "fed" && !config.mfa.forProviderLogins) return undefined;
    if (!(await hasConfirmedTotp(db, userId))) return undefined;
    const challenge = `tsm_${randomBytes(32).toString("base64url")}`;
    const now = clock();
    const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
    await insertChallenge(db, {
      hash: sha256Hex(challenge),
      userId,
      amr: first,
      providerId: providerId ?? null,
      clientIp: request.clientIp,
      userAgent: request.userAgent,
      now,
      expiresAt,
    });
    return { challenge, methods: ["totp", "recovery_code"], expiresAt: timestampFromDate(expiresAt) };
  }

  async function verify(input: VerifyInput, request: RequestInfo, beforeTry: (userId: string) => Promise<void>): Promise<Verified> {
    if (!keys) throw mfaNotConfigured();
    const hasCode = input.code !== "";
    if (hasCode === (input.recoveryCode !== "")) throw new ConnectError("give either code or recovery_code", Code.InvalidArgument);
    if (!CHALLENGE_RE.test(input.challenge)) throw new ConnectError(DEAD_CHALLENGE, Code.NotFound);
    const hash = sha256Hex(input.challenge);
    const now = clock();
    const liveUser = await findLiveChallengeUser(db, hash, now, CHALLENGE_MAX_TRIES);
    if (liveUser === undefined) throw new ConnectError(DEAD_CHALLENGE, Code.NotFound);
    await beforeTry(liveUser);
    const row = await countChallengeTry(db, hash, now, CHALLENGE_MAX_TRIES);
    if (!row) throw new ConnectError(DEAD_CHALLENGE, Code.NotFound);
    const method = hasCode ? "totp" : "recovery_code";
    let outcome: "ok" | "used";
    try {
      outcome = await db.transaction().execute(async (trx) => {
        if (!(await useChallenge(trx, row.id, now))) return "used" as const;
        const failure = hasCode
          ? await useTotpCode(trx, keys, row.user_id, input.code, now)
          : await useRecovery(trx, keys, row.user_id, input.recoveryCode, now);
        if (failure) throw new FactorRefused(failure);
        return "ok" as const;
      });
    } catch (e) {
      if (!(e instanceof FactorRefused)) throw e;
      const triesLeft = CHALLENGE_MAX_TRIES - row.attempts;
      audit.record({ action: "mfa.failed", actorUserId: row.user_id, request, metadata: { method, reason: e.reason, tries_left: triesLeft } });
      throw new ConnectError(
        triesLeft > 0 ? `wrong code (${triesLeft} ${triesLeft === 1 ? "try" : "tries"} left)` : "wrong code; no tries left: sign in again",
        Code.InvalidArgument,
      );
    }
    if (outcome === "used") throw new ConnectError(DEAD_CHALLENGE, Code.NotFound);
    const status = await findUserStatus(db, row.user_id);
    if (!status || status.disabled) throw new ConnectError("user is disabled", Code.Unauthenticated);
    const first = row.amr.split(" ").filter((v) => v !== "");
    const amr = hasCode ? [...first, "otp", "mfa"] : [...first, "mfa"];
    const tokens = await sessions.startSession(row.user_id, request, { amr, assuranceLevel: 2 });
    audit.record({ action: "mfa.verified", actorUserId: row.user_id, request, metadata: { method, first_factor: row.amr, provider: row.provider_id } });
    if (!hasCode) logger.info({ user_id: row.user_id }, "a recovery code was used to sign in");
    return { userId: row.user_id, tokens, method, challenge: row };
  }

  async function sweep(): Promise<number> {
    return deleteExpiredChallenges(db, new Date(clock().getTime() - KEEP_AFTER_EXPIRY_MS), SWEEP_BATCH);
  }

  return {
    keys,
    challengeFor,
    verify,
    sweep,
    async start() {
      timer = setInterval(() => {
        sweep().catch((e: Error) => logger.warn({ err: { message: e.message } }, "could not delete expired MFA challenges"));
      }, SWEEP_EVERY_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
