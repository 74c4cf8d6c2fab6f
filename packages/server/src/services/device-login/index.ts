/**
 * DeviceLoginService (RFC 8628, issue 17): thin handlers over auth/device. Input is
 * checked here (client name, the codes' shapes), the caller's per-user limit on user
 * codes is counted here (the abuse interceptor, before authentication, counts per
 * network), every decision and every token hand-out is audited, and responses that
 * carry a secret are `no-store`. Neither code is ever logged or written to the audit
 * trail: the audit names the login by its row id.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { DeviceLoginStatus, type DeviceLoginService } from "@tessera/sdk/proto";
import type { PerUserLimiter } from "../../abuse/per-user.js";
import { displayUserCode, isDeviceCode, normalizeUserCode } from "../../auth/device/codes.js";
import { DEVICE_LOGIN_LIFETIME_SECONDS, type DeviceLogins } from "../../auth/device/device-logins.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { tokensToWire } from "../../auth/tokens/session-issuer.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { hasConfirmedTotp } from "../../store/mfa.js";
import type { DeviceLoginRow } from "../../store/schema.js";
import { noStore } from "../common/response.js";
import { hasControlCharacters } from "../common/text.js";

/** The console page that approves device logins. */
const VERIFICATION_PATH = "/console/device";
/** Tries at user codes per signed-in user, over GetDeviceLogin, ApproveDeviceLogin and DenyDeviceLogin together. */
const USER_CODE_TRIES_PER_USER = { name: "device-user-code", limit: 10, windowMs: 60_000 };
const MAX_CLIENT_NAME = 100;
const BAD_USER_CODE = "user_code must be 8 letters like BCDF-GHJK (case, dash and spaces do not matter)";
const PROVIDER_TOKEN_NEEDS_SECOND_FACTOR =
  "this user signs in with a second factor: approve from a Tessera session (sign in with your code), not with the identity provider's access token";
const NO_SUCH_LOGIN = "no pending device login has this code (it may have expired or been decided): start again on the device";

/** What the service needs besides the common dependencies. */
export interface DeviceLoginServiceOptions {
  logins: DeviceLogins;
  /** Counts the caller's tries at user codes (abuse/per-user.ts). */
  perUser: PerUserLimiter;
}

/** A row as the approval page shows it. */
function toWire(row: DeviceLoginRow, userCode: string) {
  return {
    userCode: displayUserCode(userCode),
    clientName: row.client_name,
    clientIp: row.client_ip,
    userAgent: row.user_agent,
    createdAt: timestampFromDate(row.created_at),
    expiresAt: timestampFromDate(row.expires_at),
  };
}

/** Builds the DeviceLoginService implementation. */
export function createDeviceLoginService(deps: Deps, opts: DeviceLoginServiceOptions): ServiceImpl<typeof DeviceLoginService> {
  const { config, audit } = deps;
  const { logins, perUser } = opts;

  function requireLogins(): void {
    if (config.authMode === "none") throw new ConnectError("AUTH_MODE=none needs no login: device login is off", Code.FailedPrecondition);
  }

  /** The signed-in person trying a user code: counted per user, then the code's shape checked. */
  async function userCodeOf(ctx: HandlerContext, procedure: string, raw: string): Promise<{ userId: string; userCode: string }> {
    requireLogins();
    const principal = requirePrincipal(ctx);
    await perUser(procedure, USER_CODE_TRIES_PER_USER, principal.userId, ctx.values.get(requestInfoKey));
    const userCode = normalizeUserCode(raw);
    if (!userCode) throw new ConnectError(BAD_USER_CODE, Code.InvalidArgument);
    return { userId: principal.userId, userCode };
  }

  async function decide(ctx: HandlerContext, procedure: string, raw: string, decision: "approved" | "denied") {
    const { userId, userCode } = await userCodeOf(ctx, procedure, raw);
    // AUTH_MFA_FOR_PROVIDER_LOGINS: a provider login of a user with TOTP is challenged, so
    // the provider's own access token must not start a Tessera session by approving either.
    const principal = requirePrincipal(ctx);
    if (decision === "approved" && principal.kind === "oidc_user" && config.mfa.forProviderLogins && (await hasConfirmedTotp(deps.db.kysely, userId))) {
      throw new ConnectError(PROVIDER_TOKEN_NEEDS_SECOND_FACTOR, Code.PermissionDenied);
    }
    const row = await logins.decide(userCode, decision, userId);
    if (!row) throw new ConnectError(NO_SUCH_LOGIN, Code.NotFound);
    audit.record({
      action: decision === "approved" ? "device_login.approve.success" : "device_login.deny.success",
      actorUserId: userId,
      request: ctx.values.get(requestInfoKey),
      metadata: { device_login_id: row.id, client_name: row.client_name, client_ip: row.client_ip },
    });
    return { deviceLogin: toWire(row, userCode) };
  }

  return {
    async startDeviceLogin(req, ctx) {
      requireLogins();
      const clientName = req.clientName.trim();
      if (clientName.length === 0 || clientName.length > MAX_CLIENT_NAME || hasControlCharacters(clientName)) {
        throw new ConnectError(`client_name must be 1 to ${MAX_CLIENT_NAME} characters without control characters`, Code.InvalidArgument);
      }
      const request = ctx.values.get(requestInfoKey);
      const started = await logins.begin(clientName, request);
      if (!started) throw new ConnectError("could not start a device login; try again", Code.Unavailable);
      audit.record({
        action: "device_login.start.success",
        request,
        metadata: { device_login_id: started.row.id, client_name: clientName },
      });
      noStore(ctx);
      const verificationUri = `${config.publicUrl}${VERIFICATION_PATH}`;
      const userCode = displayUserCode(started.userCode);
      return {
        deviceCode: started.deviceCode,
        userCode,
        verificationUri,
        verificationUriComplete: `${verificationUri}?user_code=${userCode}`,
        interval: started.row.interval_seconds,
        expiresIn: DEVICE_LOGIN_LIFETIME_SECONDS,
      };
    },

    async pollDeviceLogin(req, ctx) {
      requireLogins();
      if (!isDeviceCode(req.deviceCode)) throw new ConnectError("device_code is not a device code from StartDeviceLogin", Code.InvalidArgument);
      const request = ctx.values.get(requestInfoKey);
      const r = await logins.poll(req.deviceCode, request);
      noStore(ctx);
      switch (r.status) {
        case "unknown":
          throw new ConnectError("unknown device code, or its tokens were already issued: start again", Code.NotFound);
        case "approved":
          audit.record({
            action: "device_login.token.success",
            actorUserId: r.userId,
            request,
            metadata: { device_login_id: r.row.id, client_name: r.row.client_name },
          });
          return { status: DeviceLoginStatus.APPROVED, interval: r.interval, tokens: tokensToWire(r.tokens) };
        case "pending":
          return { status: DeviceLoginStatus.PENDING, interval: r.interval };
        case "slow_down":
          return { status: DeviceLoginStatus.SLOW_DOWN, interval: r.interval };
        case "denied":
          return { status: DeviceLoginStatus.DENIED, interval: r.interval };
        case "expired":
          return { status: DeviceLoginStatus.EXPIRED, interval: r.interval };
      }
    },

    async getDeviceLogin(req, ctx) {
      const { userCode } = await userCodeOf(ctx, "DeviceLoginService/GetDeviceLogin", req.userCode);
      const row = await logins.find(userCode);
      if (!row) throw new ConnectError(NO_SUCH_LOGIN, Code.NotFound);
      return { deviceLogin: toWire(row, userCode) };
    },

    approveDeviceLogin: (req, ctx) => decide(ctx, "DeviceLoginService/ApproveDeviceLogin", req.userCode, "approved"),
    denyDeviceLogin: (req, ctx) => decide(ctx, "DeviceLoginService/DenyDeviceLogin", req.userCode, "denied"),
  };
}
