/**
 * Abuse limits for the public, credential-taking procedures, as an interceptor so no
 * handler repeats them:
 * - Login and SignUp: 10 a minute per client IP, 20 per 15 minutes per email (all IPs);
 * - RefreshToken: 30 a minute per IP; ExchangeCode, AcceptTeamAccountInvite and ChangePassword: 10 a minute per IP.
 * Over a limit: ResourceExhausted with a `retry-after` hint (seconds) and an audit event.
 * Failed logins for one email add a growing delay before the next attempt is
 * processed (a tarpit capped at 10 s) instead of a lockout anyone could trigger.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { AuditWriter } from "../audit.js";
import { normalizeEmail } from "../auth/email.js";
import { policyKey } from "../auth/policy.js";
import { requestInfoKey } from "../request-info.js";
import type { CounterStore } from "./limiter.js";

interface Limit {
  by: "ip" | "email";
  limit: number;
  windowMs: number;
}

const MINUTE = 60_000;
const perIp = (limit: number): Limit => ({ by: "ip", limit, windowMs: MINUTE });
const perEmail: Limit = { by: "email", limit: 20, windowMs: 15 * MINUTE };

/** The limits, by policy key (`Service/Method`). */
export const LIMITS: Readonly<Record<string, readonly Limit[]>> = Object.freeze({
  "AuthService/Login": [perIp(10), perEmail],
  "AuthService/SignUp": [perIp(10), perEmail],
  "AuthService/RefreshToken": [perIp(30)],
  "AuthService/ExchangeCode": [perIp(10)],
  "UserAccountService/AcceptTeamAccountInvite": [perIp(10)],
  // Verifies the current password: guessing it with a stolen access token is throttled too.
  "AuthService/ChangePassword": [perIp(10)],
});

/** Failed logins for one email before the tarpit starts. */
export const TARPIT_FREE_FAILURES = 3;
/** Longest tarpit delay. */
export const TARPIT_MAX_MS = 10_000;
const TARPIT_WINDOW_MS = 15 * MINUTE;

/** The tarpit delay after `failures` failed logins: 0, then 250 ms doubling, capped at 10 s. */
export function tarpitDelayMs(failures: number): number {
  if (failures < TARPIT_FREE_FAILURES) return 0;
  return Math.min(TARPIT_MAX_MS, 250 * 2 ** (failures - TARPIT_FREE_FAILURES));
}

export interface AbuseInterceptorOptions {
  store: CounterStore;
  audit: AuditWriter;
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

function emailOf(message: unknown): string | undefined {
  const e = (message as { email?: unknown } | undefined)?.email;
  if (typeof e !== "string" || e.length === 0 || e.length > 1024) return undefined;
  return normalizeEmail(e);
}

/** Builds the abuse-limit interceptor. */
export function createAbuseInterceptor(opts: AbuseInterceptorOptions): Interceptor {
  const { store, audit } = opts;
  const sleep = opts.sleep ?? defaultSleep;
  return (next) => async (req) => {
    const key = policyKey(req.service.typeName, req.method.name);
    const limits = LIMITS[key];
    if (!limits || req.stream) return next(req);
    const info = req.contextValues.get(requestInfoKey);
    const email = emailOf(req.message);
    for (const l of limits) {
      const subject = l.by === "ip" ? info.clientIp : email;
      if (!subject) continue;
      const { count, resetMs } = await store.hit(`${key}:${l.by}:${subject}`, l.windowMs);
      if (count > l.limit) {
        const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
        audit.record({
          action: "ratelimit.exceeded.failure",
          request: info,
          metadata: { procedure: key, limit_by: l.by, limit: l.limit, window_s: l.windowMs / 1000 },
        });
        throw new ConnectError(`too many requests; retry after ${retryAfter} s`, Code.ResourceExhausted, { "retry-after": String(retryAfter) });
      }
    }
    const isLogin = key === "AuthService/Login" && email !== undefined;
    const failKey = `login-failures:${email}`;
    if (isLogin) {
      const { count } = await store.peek(failKey);
      const delay = tarpitDelayMs(count);
      if (delay > 0) await sleep(delay, req.signal);
    }
    try {
      const res = await next(req);
      if (isLogin) await store.reset(failKey);
      return res;
    } catch (e) {
      if (isLogin && e instanceof ConnectError && e.code === Code.Unauthenticated) await store.hit(failKey, TARPIT_WINDOW_MS);
      throw e;
    }
  };
}
