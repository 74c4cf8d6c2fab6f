/**
 * Checking a second factor against the database, once: a TOTP code (the secret opened
 * with the MFA keys, the code matched within ±1 step, then the step recorded only if
 * newer than the last: a code is never accepted twice), or a recovery code (used up by
 * one conditional UPDATE). Pass a transaction to make the use part of something larger.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { findTotp, useRecoveryCode, useTotpStep } from "../../store/mfa.js";
import type { Database, UserTotpRow } from "../../store/schema.js";
import { normalizeRecoveryCode } from "./recovery-codes.js";
import type { MfaKeys } from "./secret-box.js";
import { matchTotp } from "./totp.js";

/** Why a factor was refused: the audit's `reason` (the caller hears only "wrong code"). */
export type FactorFailure = "wrong_code" | "code_reused" | "not_enrolled" | "malformed";

/** The answer when MFA has no encryption key (docs/mfa.md#settings). */
export function mfaNotConfigured(): ConnectError {
  return new ConnectError("MFA is not configured on this server (MFA_ENCRYPTION_KEY)", Code.FailedPrecondition);
}

/** The secret of a TOTP row; FailedPrecondition when no configured key opens it (fail closed). */
export function openSecret(keys: MfaKeys, row: UserTotpRow): Buffer {
  const secret = keys.open(row.secret_ciphertext, row.user_id);
  if (!secret) throw new ConnectError("the TOTP secret cannot be opened with the configured MFA_ENCRYPTION_KEY", Code.FailedPrecondition);
  return secret;
}

/** Checks and uses a TOTP code of the user's confirmed secret; the failure's reason, or undefined when accepted. */
export async function useTotpCode(db: Kysely<Database>, keys: MfaKeys, userId: string, code: string, now: Date): Promise<FactorFailure | undefined> {
  const row = await findTotp(db, userId);
  if (!row || row.confirmed_at === null) return "not_enrolled";
  const secret = openSecret(keys, row);
  const last = Number(row.last_used_step);
  const step = matchTotp(secret, code, now, last);
  if (step === undefined) return matchTotp(secret, code, now, -1) !== undefined ? "code_reused" : "wrong_code";
  return (await useTotpStep(db, userId, step)) ? undefined : "code_reused";
}

/** Checks and uses one of the user's recovery codes; the failure's reason, or undefined when accepted. */
export async function useRecovery(db: Kysely<Database>, keys: MfaKeys, userId: string, code: string, now: Date): Promise<FactorFailure | undefined> {
  const normalized = normalizeRecoveryCode(code);
  if (normalized === undefined) return "malformed";
  return (await useRecoveryCode(db, userId, keys.codeHashes(normalized), now)) ? undefined : "wrong_code";
}
