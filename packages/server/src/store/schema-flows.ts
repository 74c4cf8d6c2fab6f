/**
 * Kysely table types of the sign-in flows that hand out short-lived codes and links:
 * device logins (RFC 8628) and mailed email tokens. Only hashes of their secrets.
 */
import type { ColumnType, Generated, Selectable } from "kysely";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

/** Where a device login stands; `consumed` once its tokens were handed out. */
type DeviceLoginState = "pending" | "approved" | "denied" | "consumed";

/** A device login (RFC 8628): only hashes of its codes. */
export interface DeviceLoginsTable {
  id: Generated<string>;
  /** SHA-256 (hex) of the device code. */
  device_code_hash: string;
  /** SHA-256 (hex) of the normalized user code (8 letters, no dash). */
  user_code_hash: string;
  client_name: string;
  client_ip: string;
  user_agent: string;
  status: DeviceLoginState;
  /** Who approved or denied it. */
  user_id: string | null;
  interval_seconds: number;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_polled_at: Timestamp | null;
  decided_at: Timestamp | null;
}

/** Why an email token was sent. */
export type EmailTokenPurpose = "verify_email" | "password_reset";

/** Tokens of links sent by mail (migration 0008): SHA-256 (hex) at rest, single-use. */
export interface EmailTokensTable {
  id: Generated<string>;
  user_id: string;
  purpose: EmailTokenPurpose;
  token_hash: string;
  /** The address the link was sent to: a verification counts only while the user still has it. */
  email_normalized: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export type DeviceLoginRow = Selectable<DeviceLoginsTable>;
export type EmailTokenRow = Selectable<EmailTokensTable>;
