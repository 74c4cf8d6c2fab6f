/**
 * Kysely table types of the second factor (migration 0013): TOTP secrets (ciphertext
 * only), recovery codes (hashes only) and MFA challenges (hashes only).
 */
import type { ColumnType, Generated, Selectable } from "kysely";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
/** bigint columns come back as strings from pg; written as numbers. */
type BigIntColumn = ColumnType<string | number | bigint, number | string | bigint | undefined, number | string | bigint>;

/** A user's TOTP secret: pending (confirmed_at null) or on. */
export interface UserTotpTable {
  user_id: string;
  /** `v1.<kid>.<iv>.<ciphertext>.<tag>`: AES-256-GCM under MFA_ENCRYPTION_KEY, bound to the user id. */
  secret_ciphertext: string;
  created_at: Timestamp;
  confirmed_at: Timestamp | null;
  /** Until when an unconfirmed secret may be confirmed. */
  pending_expires_at: Timestamp | null;
  /** The newest step a code was accepted for (no replay). */
  last_used_step: BigIntColumn;
}

/** One recovery code: `<kid>.<HMAC-SHA-256 hex>`, single use. */
export interface MfaRecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  created_at: CreatedAt;
  used_at: Timestamp | null;
}

/** A sign-in waiting for its second factor. */
export interface MfaChallengesTable {
  id: Generated<string>;
  /** SHA-256 (hex) of the challenge. */
  challenge_hash: string;
  user_id: string;
  /** The first factor's `amr` values, space-separated. */
  amr: string;
  provider_id: string | null;
  client_ip: string;
  user_agent: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  attempts: Generated<number>;
  used_at: Timestamp | null;
}

export type UserTotpRow = Selectable<UserTotpTable>;
export type MfaChallengeRow = Selectable<MfaChallengesTable>;
