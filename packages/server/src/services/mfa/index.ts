/**
 * MfaService (issue 18): thin handlers over auth/mfa. Enrolment, status, disabling and
 * new recovery codes are for the signed-in person (policy rule `human`); starting an
 * enrolment needs the password or a recent sign-in (enrol-reauth.ts); VerifyMfa is
 * public (the challenge is the credential). Every code a caller sends is counted per
 * user (abuse/per-user.ts: 10 tries per 15 minutes over these procedures together),
 * every failure is audited (`mfa.failed`), turning TOTP on or off is audited and mailed.
 * Secrets and recovery codes are answered once and never logged; answers that carry one
 * are `no-store`. ResetUserMfa is the instance admins' way out for a user who lost both
 * the app and the codes.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MfaService } from "@tessera/sdk/proto";
import type { PerUserLimiter } from "../../abuse/per-user.js";
import type { RecoveryMail } from "../../auth/email-links/recovery-mail.js";
import type { MfaSignIn } from "../../auth/mfa/challenges.js";
import { mfaNotConfigured, openSecret, useRecovery, useTotpCode, type FactorFailure } from "../../auth/mfa/factors.js";
import { newRecoveryCodes, normalizeRecoveryCode } from "../../auth/mfa/recovery-codes.js";
import type { MfaKeys } from "../../auth/mfa/secret-box.js";
import { base32Encode } from "../../auth/mfa/base32.js";
import { matchTotp, newTotpSecret, otpauthUri } from "../../auth/mfa/totp.js";
import { checkPasswordBytes, passwordHashing } from "../../auth/passwords/hashing.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { tokensToWire } from "../../auth/tokens/session-issuer.js";
import type { Deps } from "../../deps.js";
import { isUuid } from "../../lib/ids.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { confirmTotp, countRecoveryCodes, deleteTotp, findTotp, replaceRecoveryCodes, upsertPendingTotp } from "../../store/mfa.js";
import type { UserRow, UserTotpRow } from "../../store/schema.js";
import { findUserById } from "../../store/users.js";
import { noStore } from "../common/response.js";
import { checkEnrolmentReauth } from "./enrol-reauth.js";

/** How long StartTotpEnrollment's secret waits for ConfirmTotpEnrollment. */
const ENROLMENT_TTL_MS = 10 * 60_000;
/** Codes (TOTP or recovery) a user may send, over every MFA procedure, per window. */
const CODE_TRIES_PER_USER = { name: "mfa-code", limit: 10, windowMs: 15 * 60_000 };

/** What the service needs besides the common dependencies. */
export interface MfaServiceOptions {
  mfa: MfaSignIn;
  mail: RecoveryMail;
  perUser: PerUserLimiter;
}

/** Thrown inside a transaction to roll it back: the factor was refused. */
class Refused extends Error {
  constructor(
    readonly reason: FactorFailure | "wrong_password",
    readonly answer: ConnectError,
  ) {
    super(reason);
  }
}

const wrongCode = () => new ConnectError("wrong code", Code.InvalidArgument);

/** Builds the MfaService implementation. */
export function createMfaService(deps: Deps, opts: MfaServiceOptions): ServiceImpl<typeof MfaService> {
  const { config, audit, clock } = deps;
  const db = deps.db.kysely;
  const { mfa, mail, perUser } = opts;

  function keys(): MfaKeys {
    if (config.authMode === "none") throw new ConnectError("AUTH_MODE=none has no sign-in: MFA is off", Code.FailedPrecondition);
    if (!mfa.keys) throw mfaNotConfigured();
    return mfa.keys;
  }

  /** The signed-in person (a human user who still exists). */
  async function caller(ctx: HandlerContext): Promise<UserRow> {
    const p = requirePrincipal(ctx);
    const user = await findUserById(db, p.userId);
    if (user?.kind !== "human") throw new ConnectError("only a signed-in person has a second factor", Code.PermissionDenied);
    if (user.disabled_at !== null) throw new ConnectError("user is disabled", Code.PermissionDenied);
    return user;
  }

  async function confirmed(user: UserRow): Promise<UserTotpRow> {
    const row = await findTotp(db, user.id);
    if (!row || row.confirmed_at === null) throw new ConnectError("TOTP is not on for this user", Code.FailedPrecondition);
    return row;
  }

  function failed(ctx: HandlerContext, userId: string, during: string, reason: string): void {
    audit.record({ action: "mfa.failed", actorUserId: userId, request: ctx.values.get(requestInfoKey), metadata: { during, reason } });
  }

  /** Runs `work` in a transaction; a Refused inside rolls it back, is audited and answered. */
  async function refusable<T>(ctx: HandlerContext, userId: string, during: string, work: (trx: typeof db) => Promise<T>): Promise<T> {
    try {
      return await db.transaction().execute(work);
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      failed(ctx, userId, during, e.reason);
      throw e.answer;
    }
  }

  const count = (ctx: HandlerContext, procedure: string, userId: string) => perUser(procedure, CODE_TRIES_PER_USER, userId, ctx.values.get(requestInfoKey));

  return {
    async getMfaStatus(_req, ctx) {
      const user = await caller(ctx);
      const row = await findTotp(db, user.id);
      const on = row !== undefined && row.confirmed_at !== null;
      return {
        totpEnabled: on,
        totpEnabledAt: on ? timestampFromDate(row.confirmed_at!) : undefined,
        recoveryCodesRemaining: on ? await countRecoveryCodes(db, user.id) : 0,
      };
    },

    async startTotpEnrollment(req, ctx) {
      const k = keys();
      const user = await caller(ctx);
      // A stolen token alone must not turn TOTP on: the password, or a recent sign-in.
      await checkEnrolmentReauth(deps, ctx, user, req.password, (reason) => failed(ctx, user.id, "enrolment", reason));
      const existing = await findTotp(db, user.id);
      const already = () => new ConnectError("TOTP is already on: turn it off first (DisableTotp)", Code.FailedPrecondition);
      if (existing?.confirmed_at) throw already();
      const secret = newTotpSecret();
      const now = clock();
      const expiresAt = new Date(now.getTime() + ENROLMENT_TTL_MS);
      if (!(await upsertPendingTotp(db, { userId: user.id, ciphertext: k.seal(secret, user.id), now, expiresAt }))) throw already();
      audit.record({ action: "mfa.enroll.start", actorUserId: user.id, request: ctx.values.get(requestInfoKey) });
      noStore(ctx);
      return {
        secret: base32Encode(secret),
        otpauthUri: otpauthUri(secret, config.mfa.issuer, user.email ?? user.id),
        expiresAt: timestampFromDate(expiresAt),
      };
    },

    async confirmTotpEnrollment(req, ctx) {
      const k = keys();
      const user = await caller(ctx);
      await count(ctx, "MfaService/ConfirmTotpEnrollment", user.id);
      const row = await findTotp(db, user.id);
      const now = clock();
      if (row?.confirmed_at) throw new ConnectError("TOTP is already on", Code.FailedPrecondition);
      if (!row || row.pending_expires_at === null || row.pending_expires_at.getTime() <= now.getTime()) {
        throw new ConnectError("no enrolment is waiting (or it expired): start again with StartTotpEnrollment", Code.FailedPrecondition);
      }
      const step = matchTotp(openSecret(k, row), req.code, now, Number(row.last_used_step));
      if (step === undefined) {
        failed(ctx, user.id, "enrolment", "wrong_code");
        throw wrongCode();
      }
      const codes = newRecoveryCodes();
      await db.transaction().execute(async (trx) => {
        if (!(await confirmTotp(trx, user.id, row.secret_ciphertext, step, now))) {
          throw new ConnectError("the enrolment changed meanwhile: start again with StartTotpEnrollment", Code.FailedPrecondition);
        }
        await replaceRecoveryCodes(
          trx,
          user.id,
          codes.map((c) => k.codeHash(normalizeRecoveryCode(c)!)),
          now,
        );
      });
      audit.record({ action: "mfa.enabled", actorUserId: user.id, request: ctx.values.get(requestInfoKey), metadata: { method: "totp" } });
      if (user.email) mail.secondFactorChanged(user.email, "enabled");
      noStore(ctx);
      return { recoveryCodes: codes };
    },

    async disableTotp(req, ctx) {
      const k = keys();
      const user = await caller(ctx);
      await count(ctx, "MfaService/DisableTotp", user.id);
      await confirmed(user);
      // Two proofs: the password and a code, or the password and a recovery code (a lost
      // device); a user without a password gives a recovery code and a code.
      const hasPassword = user.password_hash !== null;
      const useCode = req.code !== "";
      const useRecoveryCode = req.recoveryCode !== "";
      if (hasPassword ? !useCode && !useRecoveryCode : !useCode || !useRecoveryCode) {
        throw new ConnectError(
          hasPassword ? "code is required (or, for a lost device, recovery_code)" : "recovery_code and code are required (this user has no password)",
          Code.InvalidArgument,
        );
      }
      if (hasPassword) {
        checkPasswordBytes(req.password);
        if (!(await passwordHashing.verify(user.password_hash!, req.password))) {
          failed(ctx, user.id, "disable", "wrong_password");
          throw new ConnectError("password is incorrect", Code.InvalidArgument);
        }
      }
      const now = clock();
      await refusable(ctx, user.id, "disable", async (trx) => {
        if (useRecoveryCode && (!hasPassword || !useCode)) {
          const r = await useRecovery(trx, k, user.id, req.recoveryCode, now);
          if (r) throw new Refused(r, new ConnectError("wrong recovery code", Code.InvalidArgument));
        }
        if (useCode) {
          const c = await useTotpCode(trx, k, user.id, req.code, now);
          if (c) throw new Refused(c, wrongCode());
        }
        await deleteTotp(trx, user.id);
      });
      audit.record({
        action: "mfa.disabled",
        actorUserId: user.id,
        request: ctx.values.get(requestInfoKey),
        metadata: { with: useCode ? "code" : "recovery_code" },
      });
      if (user.email) mail.secondFactorChanged(user.email, "disabled");
      return {};
    },

    async regenerateRecoveryCodes(req, ctx) {
      const k = keys();
      const user = await caller(ctx);
      await count(ctx, "MfaService/RegenerateRecoveryCodes", user.id);
      await confirmed(user);
      const now = clock();
      const codes = newRecoveryCodes();
      await refusable(ctx, user.id, "regenerate", async (trx) => {
        const c = await useTotpCode(trx, k, user.id, req.code, now);
        if (c) throw new Refused(c, wrongCode());
        await replaceRecoveryCodes(
          trx,
          user.id,
          codes.map((x) => k.codeHash(normalizeRecoveryCode(x)!)),
          now,
        );
      });
      audit.record({ action: "mfa.recovery_codes.regenerated", actorUserId: user.id, request: ctx.values.get(requestInfoKey) });
      noStore(ctx);
      return { recoveryCodes: codes };
    },

    async resetUserMfa(req, ctx) {
      const admin = requirePrincipal(ctx);
      if (!isUuid(req.userId)) throw new ConnectError("user_id must be a user id (UUID)", Code.InvalidArgument);
      const user = await findUserById(db, req.userId.toLowerCase());
      if (!user) throw new ConnectError("user not found", Code.NotFound);
      if (!(await db.transaction().execute((trx) => deleteTotp(trx, user.id)))) {
        throw new ConnectError("this user has no second factor", Code.FailedPrecondition);
      }
      audit.record({ action: "mfa.reset", actorUserId: admin.userId, request: ctx.values.get(requestInfoKey), metadata: { user_id: user.id } });
      if (user.email) mail.secondFactorChanged(user.email, "disabled");
      return {};
    },

    async verifyMfa(req, ctx) {
      if (config.authMode === "none") throw new ConnectError("AUTH_MODE=none has no sign-in: MFA is off", Code.FailedPrecondition);
      const request = ctx.values.get(requestInfoKey);
      const done = await mfa.verify({ challenge: req.challenge, code: req.code, recoveryCode: req.recoveryCode }, request, (userId) =>
        perUser("MfaService/VerifyMfa", CODE_TRIES_PER_USER, userId, request),
      );
      noStore(ctx);
      return { tokens: tokensToWire(done.tokens) };
    },
  };
}
