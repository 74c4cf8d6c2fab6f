/**
 * Abuse limits for the public, credential-taking procedures, as an interceptor so no
 * handler repeats them. Per-IP limits count the client *network* (network.ts: an IPv4
 * address, an IPv6 /64):
 * - Login: 10 a minute per network; SignUp: 5 a minute and 20 an hour per network;
 * - VerifyMfa: 20 a minute per network (and per user: MfaService counts codes).
 * - RefreshToken: 30 a minute; GetAuthorizeUrl: 60 a minute; ExchangeCode,
 *   AcceptTeamAccountInvite, ChangePassword and StartTotpEnrollment: 10 a minute per
 *   network.
 * - RequestPasswordReset and ResendVerification (they mail): 5 a minute and 20 an hour
 *   per network, and 5 an hour per email (any email, registered or not: the refusal says
 *   nothing about the address); VerifyEmail and ResetPassword: 10 a minute per network.
 * - Device login (RFC 8628): StartDeviceLogin 10 a minute and 60 an hour, PollDeviceLogin
 *   120 a minute; GetDeviceLogin, ApproveDeviceLogin and DenyDeviceLogin 20 a minute
 *   together (one counter: each tries a user code), and 10 a minute per signed-in user
 *   (per-user.ts, asked by the handler: this interceptor runs before authentication).
 * - Failed logins (not attempts) for one email from one network: 10 per 15 minutes; then
 *   that network is refused for that email (even with the right password) until the
 *   window ends. Failures from other networks never stop a client: the owner logging in
 *   from a network without recent failures gets through while an attack runs.
 * - Failed logins for one email, from anywhere, add a growing delay before each further
 *   attempt is processed (a tarpit capped at 10 s), never a refusal.
 * Over a limit: ResourceExhausted with a `retry-after` hint (seconds); the refusal goes
 * to the aggregated audit (refusal-audit.ts).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { emailTag, validNormalizedEmail } from "../auth/passwords/email.js";
import { policyKey } from "../auth/policy/policy.js";
import { requestInfoKey, type RequestInfo } from "../lib/request-info.js";
import { NO_METRICS, type Metrics } from "../metrics/metrics.js";
import type { CounterStore } from "./limiter.js";
import { networkOf } from "./network.js";
import type { Refusal, RefusalRecorder } from "./refusal-audit.js";

interface Limit {
  by: "ip";
  limit: number;
  windowMs: number;
  /** Procedures with the same group share one counter (default: the procedure's own). */
  group?: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const perIp = (limit: number, windowMs = MINUTE): Limit => ({ by: "ip", limit, windowMs });
/** Every attempt at a device login's user code, whichever procedure makes it. */
const userCodeTries: Limit = { by: "ip", limit: 20, windowMs: MINUTE, group: "device-user-code" };

/** The per-network limits, by policy key (`Service/Method`). */
const LIMITS: Readonly<Record<string, readonly Limit[]>> = Object.freeze({
  "AuthService/Login": [perIp(10)],
  // Tighter than Login: SignUp hashes a password and mails each time, and without
  // AUTH_REQUIRE_VERIFIED_EMAIL answers AlreadyExists for a registered email.
  "AuthService/SignUp": [perIp(5), perIp(20, HOUR)],
  "AuthService/RefreshToken": [perIp(30)],
  // Public and writes a login transaction per call.
  "AuthService/GetAuthorizeUrl": [perIp(60)],
  "AuthService/ExchangeCode": [perIp(10)],
  // Public: a challenge is the credential (and each has 5 tries, each user 10 per 15 minutes).
  "MfaService/VerifyMfa": [perIp(20)],
  "UserAccountService/AcceptTeamAccountInvite": [perIp(10)],
  // Verifies the current password: guessing it with a stolen access token is throttled too.
  "AuthService/ChangePassword": [perIp(10)],
  // Verifies the password too (a stolen token must not turn TOTP on): as ChangePassword.
  "MfaService/StartTotpEnrollment": [perIp(10)],
  // Public and writes a row per call (docs/device-login.md has the arithmetic).
  "DeviceLoginService/StartDeviceLogin": [perIp(10), perIp(60, HOUR)],
  // The device code is 256 random bits: this bounds the load, not guessing.
  "DeviceLoginService/PollDeviceLogin": [perIp(120)],
  "DeviceLoginService/GetDeviceLogin": [userCodeTries],
  "DeviceLoginService/ApproveDeviceLogin": [userCodeTries],
  "DeviceLoginService/DenyDeviceLogin": [userCodeTries],
  // They mail: a flood would make Tessera send mail for the attacker.
  "AccountRecoveryService/RequestPasswordReset": [perIp(5), perIp(20, HOUR)],
  "AccountRecoveryService/ResendVerification": [perIp(5), perIp(20, HOUR)],
  "AccountRecoveryService/VerifyEmail": [perIp(10)],
  "AccountRecoveryService/ResetPassword": [perIp(10)],
});

/** Requests per email address an hour, for the procedures that mail that address. */
const EMAIL_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  "AccountRecoveryService/RequestPasswordReset": 5,
  "AccountRecoveryService/ResendVerification": 5,
});

/** Failed logins for one email from one network before that network is refused for it. */
const LOGIN_FAILURES_PER_EMAIL_AND_NETWORK = 10;
/** The window of failed-login counting (both the per-email-and-network limit and the tarpit). */
const LOGIN_FAILURE_WINDOW_MS = 15 * MINUTE;
/** Failed logins for one email before the tarpit starts. */
const TARPIT_FREE_FAILURES = 3;
/** Longest tarpit delay. */
export const TARPIT_MAX_MS = 10_000;

/** The tarpit delay after `failures` failed logins: 0, then 250 ms doubling, capped at 10 s. */
export function tarpitDelayMs(failures: number): number {
  if (failures < TARPIT_FREE_FAILURES) return 0;
  return Math.min(TARPIT_MAX_MS, 250 * 2 ** (failures - TARPIT_FREE_FAILURES));
}

/** What the abuse interceptor counts with and reports to. */
export interface AbuseInterceptorOptions {
  store: CounterStore;
  /** Where refusals are reported (the aggregated audit). */
  refusals: RefusalRecorder;
  /** Counts refusals by procedure (default: not counted). */
  metrics?: Pick<Metrics, "rateLimited">;
  /** Sleeps; tests may replace it. Must reject when the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ConnectError("request cancelled", Code.Canceled));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ConnectError("request cancelled", Code.Canceled));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The normalized email of a request message, when it carries a valid one (bounded work). */
function emailOf(message: unknown): string | undefined {
  const e = (message as { email?: unknown } | undefined)?.email;
  return typeof e === "string" ? validNormalizedEmail(e) : undefined;
}

/** Reports a refusal and answers ResourceExhausted with a `retry-after` hint. */
export function refuse(refusals: RefusalRecorder, r: Refusal): never {
  refusals.refused(r);
  const retryAfter = Math.max(1, Math.ceil(r.resetMs / 1000));
  throw new ConnectError(`too many requests; retry after ${retryAfter} s`, Code.ResourceExhausted, { "retry-after": String(retryAfter) });
}

/** Builds the abuse-limit interceptor. */
export function createAbuseInterceptor(opts: AbuseInterceptorOptions): Interceptor {
  const { store } = opts;
  const metrics = opts.metrics ?? NO_METRICS;
  const refusals: RefusalRecorder = {
    refused(r) {
      metrics.rateLimited(r.procedure);
      opts.refusals.refused(r);
    },
  };
  const sleep = opts.sleep ?? defaultSleep;
  return (next) => async (req) => {
    const procedure = policyKey(req.service.typeName, req.method.name);
    const limits = LIMITS[procedure];
    if (!limits || req.stream) return next(req);
    const info: RequestInfo = req.contextValues.get(requestInfoKey);
    const network = networkOf(info.clientIp);
    for (const l of limits) {
      const { count, resetMs } = await store.hit(`${l.group ?? procedure}:ip:${l.windowMs}:${network}`, l.windowMs);
      if (count > l.limit) {
        refuse(refusals, { procedure, limitBy: "ip", limit: l.limit, windowMs: l.windowMs, subject: network, resetMs, request: info, metadata: { network } });
      }
    }
    const perEmail = EMAIL_LIMITS[procedure];
    const mailed = perEmail === undefined ? undefined : emailOf(req.message);
    if (perEmail !== undefined && mailed !== undefined) {
      const { count, resetMs } = await store.hit(`${procedure}:email:${mailed}`, HOUR);
      if (count > perEmail) {
        refuse(refusals, {
          procedure,
          limitBy: "email",
          limit: perEmail,
          windowMs: HOUR,
          subject: mailed,
          resetMs,
          request: info,
          metadata: { email_tag: emailTag(mailed) },
        });
      }
    }
    const email = procedure === "AuthService/Login" ? emailOf(req.message) : undefined;
    if (email === undefined) return next(req);

    const emailKey = `login-failures:${email}`;
    const pairKey = `login-failures-from:${network} ${email}`;
    const pair = await store.peek(pairKey);
    if (pair.count >= LOGIN_FAILURES_PER_EMAIL_AND_NETWORK) {
      refuse(refusals, {
        procedure,
        limitBy: "email_and_ip",
        limit: LOGIN_FAILURES_PER_EMAIL_AND_NETWORK,
        windowMs: LOGIN_FAILURE_WINDOW_MS,
        subject: `${email} ${network}`,
        resetMs: pair.resetMs,
        request: info,
        metadata: { network, email_tag: emailTag(email) },
      });
    }
    const delay = tarpitDelayMs((await store.peek(emailKey)).count);
    if (delay > 0) await sleep(delay, req.signal);
    try {
      const res = await next(req);
      await Promise.all([store.reset(emailKey), store.reset(pairKey)]);
      return res;
    } catch (e) {
      if (e instanceof ConnectError && e.code === Code.Unauthenticated) {
        await Promise.all([store.hit(emailKey, LOGIN_FAILURE_WINDOW_MS), store.hit(pairKey, LOGIN_FAILURE_WINDOW_MS)]);
      }
      throw e;
    }
  };
}
