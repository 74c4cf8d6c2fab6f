/**
 * Device logins (RFC 8628) as a feature: start, poll (with slow_down), look up and
 * decide by user code, and the sweep that deletes expired rows in bounded batches.
 * The tokens are a new session of the approving user (the same SessionIssuer every
 * sign-in ends in), handed out once: claiming them is one conditional UPDATE.
 *
 * Codes are looked up by their SHA-256 through a unique index: nothing compares a
 * secret byte by byte in JavaScript, and a hash's prefix tells an attacker nothing.
 */
import type { Deps, Feature } from "../../deps.js";
import type { RequestInfo } from "../../lib/request-info.js";
import {
  claimApprovedDeviceLogin,
  decideDeviceLogin,
  deleteExpiredDeviceLogins,
  findDeviceLoginByDeviceCode,
  findPendingDeviceLogin,
  insertDeviceLogin,
  recordPacedPoll,
  slowDownDeviceLogin,
} from "../../store/device-logins.js";
import type { DeviceLoginRow } from "../../store/schema.js";
import { findUserStatus } from "../../store/users.js";
import type { IssuedTokens, SessionIssuer, SignIn } from "../tokens/session-issuer.js";
import { codeHash, newDeviceCode, newUserCode } from "./codes.js";

/** How a device session is signed in: no `amr` of its own (the approver's sign-in is not the device's), level 1. */
const DEVICE_SIGN_IN: SignIn = Object.freeze({ amr: Object.freeze([]), assuranceLevel: 1 });

/** Seconds between polls at first (RFC 8628 §3.2 suggests 5). */
const DEVICE_POLL_INTERVAL_SECONDS = 5;
/** Seconds a device login lives. */
export const DEVICE_LOGIN_LIFETIME_SECONDS = 600;
/** What slow_down adds to the interval (RFC 8628 §3.5). */
const SLOW_DOWN_SECONDS = 5;
/** A poll up to this early still counts as on time (network jitter). */
const POLL_TOLERANCE_MS = 500;
/** Expired rows are kept this long (late polls still hear EXPIRED or DENIED), then deleted. */
const KEEP_AFTER_EXPIRY_MS = 60 * 60_000;
/** How often the sweep runs, and how many rows one sweep deletes at most. */
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1000;
/** Tries at a unique user code before giving up (a clash is about 1 in 2.56e10 per live row). */
const INSERT_TRIES = 3;

/** A login just started: the codes in clear, once. */
interface StartedDeviceLogin {
  deviceCode: string;
  /** Normalized (8 letters). */
  userCode: string;
  row: DeviceLoginRow;
}

/** What a poll found. */
type PollOutcome =
  | { status: "pending" | "slow_down" | "denied" | "expired"; interval: number; row: DeviceLoginRow }
  | { status: "approved"; interval: number; row: DeviceLoginRow; userId: string; tokens: IssuedTokens }
  /** Unknown device code, or its tokens were already handed out. */
  | { status: "unknown" };

export interface DeviceLogins extends Feature {
  /** Starts a login for a program. Undefined only if no unique user code was found. */
  begin(clientName: string, request: RequestInfo): Promise<StartedDeviceLogin | undefined>;
  /** Answers a poll with a device code (already shape-checked). */
  poll(deviceCode: string, request: RequestInfo): Promise<PollOutcome>;
  /** The pending, unexpired login of a normalized user code. */
  find(userCode: string): Promise<DeviceLoginRow | undefined>;
  /** Approves or denies the pending login of a normalized user code as `userId`; undefined when there is none. */
  decide(userCode: string, decision: "approved" | "denied", userId: string): Promise<DeviceLoginRow | undefined>;
  /** Deletes rows expired over an hour ago, one bounded batch (the timer calls it; tests too). */
  sweep(): Promise<number>;
}

/** Builds device logins over the sessions every sign-in uses. */
export function createDeviceLogins(deps: Pick<Deps, "db" | "clock" | "logger">, sessions: SessionIssuer): DeviceLogins {
  const { clock, logger } = deps;
  const db = deps.db.kysely;
  let timer: NodeJS.Timeout | undefined;

  async function begin(clientName: string, request: RequestInfo): Promise<StartedDeviceLogin | undefined> {
    const now = clock();
    for (let i = 0; i < INSERT_TRIES; i++) {
      const deviceCode = newDeviceCode();
      const userCode = newUserCode();
      const row = await insertDeviceLogin(db, {
        deviceCodeHash: codeHash(deviceCode),
        userCodeHash: codeHash(userCode),
        clientName,
        clientIp: request.clientIp,
        userAgent: request.userAgent,
        intervalSeconds: DEVICE_POLL_INTERVAL_SECONDS,
        createdAt: now,
        expiresAt: new Date(now.getTime() + DEVICE_LOGIN_LIFETIME_SECONDS * 1000),
      });
      if (row) return { deviceCode, userCode, row };
    }
    return undefined;
  }

  async function poll(deviceCode: string, request: RequestInfo): Promise<PollOutcome> {
    const row = await findDeviceLoginByDeviceCode(db, codeHash(deviceCode));
    if (!row || row.status === "consumed") return { status: "unknown" };
    const now = clock();
    const interval = row.interval_seconds;
    if (row.status === "denied") return { status: "denied", interval, row };
    if (now >= row.expires_at) return { status: "expired", interval, row };
    const notAfter = new Date(now.getTime() - interval * 1000 + POLL_TOLERANCE_MS);
    if (!(await recordPacedPoll(db, row.id, interval, notAfter, now))) {
      const slower = await slowDownDeviceLogin(db, row.id, SLOW_DOWN_SECONDS, now);
      return slower === undefined ? { status: "unknown" } : { status: "slow_down", interval: slower, row };
    }
    if (row.status === "pending") return { status: "pending", interval, row };
    // Approved: exactly one poll claims the tokens.
    const userId = await claimApprovedDeviceLogin(db, row.id, now);
    if (!userId) {
      // Another poll claimed it, or it expired or was deleted meanwhile.
      const again = await findDeviceLoginByDeviceCode(db, row.device_code_hash);
      return again && again.status !== "consumed" && now >= again.expires_at ? { status: "expired", interval, row } : { status: "unknown" };
    }
    // Disabled (or deleted) since approving: no session for it.
    const user = await findUserStatus(db, userId);
    if (!user || user.disabled) return { status: "denied", interval, row };
    // RFC 8628 §5.4: approving is open to remote phishing, so a device session never carries the approver's second factor.
    const tokens = await sessions.startSession(userId, request, DEVICE_SIGN_IN);
    return { status: "approved", interval, row, userId, tokens };
  }

  async function sweep(): Promise<number> {
    return deleteExpiredDeviceLogins(db, new Date(clock().getTime() - KEEP_AFTER_EXPIRY_MS), SWEEP_BATCH);
  }

  return {
    begin,
    poll,
    find: (userCode) => findPendingDeviceLogin(db, codeHash(userCode), clock()),
    decide: (userCode, decision, userId) => decideDeviceLogin(db, codeHash(userCode), decision, userId, clock()),
    sweep,
    async start() {
      timer = setInterval(() => {
        sweep().catch((e: Error) => logger.warn({ err: { message: e.message } }, "could not delete expired device logins"));
      }, SWEEP_EVERY_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
