/**
 * Kysely table types. Every column of every table; `Selectable`/`Insertable`/
 * `Updateable` aliases per table are what repositories pass around.
 */
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { DeviceLoginsTable, EmailTokensTable } from "./schema-flows.js";
import type { MfaChallengesTable, MfaRecoveryCodesTable, UserTotpTable } from "./schema-mfa.js";
import type { AccountClientCertsTable } from "./schema-client-certs.js";

export type { DeviceLoginRow, EmailTokenPurpose, EmailTokenRow } from "./schema-flows.js";
export type { MfaChallengeRow, UserTotpRow } from "./schema-mfa.js";
export type { AccountClientCertRow, ClientCertMatchKind } from "./schema-client-certs.js";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json = ColumnType<Record<string, unknown>, string | Record<string, unknown>, string | Record<string, unknown>>;

export type UserKind = "human" | "machine";
type AccountKind = "personal" | "team";
export type RoleName = "admin" | "member" | "viewer";

interface UsersTable {
  id: Generated<string>;
  kind: UserKind;
  /** As given (trimmed); for display. */
  email: string | null;
  /** NFKC, lower-cased: what lookups compare. Unique among password users. */
  email_normalized: string | null;
  name: string | null;
  image: string | null;
  /** argon2id PHC string; null for users without a password. */
  password_hash: string | null;
  is_instance_admin: Generated<boolean>;
  disabled_at: Timestamp | null;
  /** When the user proved `email` by a link (migration 0008); null: not verified. */
  email_verified_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

interface IdentitiesTable {
  id: Generated<string>;
  user_id: string;
  issuer: string;
  subject: string;
  email: string | null;
  /** The provider reported `email` with `email_verified: true` (migration 0002). */
  email_verified: Generated<boolean>;
  name: string | null;
  image: string | null;
  /** The configured provider it signed in through (migration 0006); null before. */
  provider_id: string | null;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

interface AccountsTable {
  id: Generated<string>;
  kind: AccountKind;
  name: string;
  /** Set for personal accounts: at most one per user. */
  personal_user_id: string | null;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

interface MembershipsTable {
  account_id: string;
  user_id: string;
  role: RoleName;
  created_at: CreatedAt;
  updated_at: Generated<Date>;
}

interface InvitesTable {
  id: Generated<string>;
  account_id: string;
  email: string;
  email_normalized: string;
  role: RoleName;
  /** SHA-256 (hex) of the invite token. */
  token_hash: string;
  created_by_id: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by_id: string | null;
}

interface ApiKeysTable {
  id: Generated<string>;
  account_id: string;
  name: string;
  /** SHA-256 (hex) of the whole key. Unique; lookups go by it. */
  key_hash: string;
  /** First characters of the key, for display. */
  start: string;
  /** The key's machine user. */
  user_id: string;
  created_at: CreatedAt;
  created_by_id: string | null;
  updated_at: Timestamp;
  updated_by_id: string | null;
  expires_at: Timestamp;
  last_used_at: Timestamp | null;
  /** The procedures the key may call (`@tessera/sdk` scope syntax); empty: unrestricted. */
  scopes: ColumnType<string[], string[] | undefined, never>;
  /** Rate limits (JSON; inserted as JSON text); empty: none. */
  rate_limits: ColumnType<ApiKeyRateLimitJson[], string | undefined, never>;
  /** Usage budget (JSON; inserted as JSON text), or null. */
  budget: ColumnType<ApiKeyBudgetJson | null, string | null | undefined, never>;
  /** Bound to this client certificate (RFC 8705 `x5t#S256`, migration 0010); null: not bound. */
  client_cert_thumbprint: ColumnType<string | null, string | null | undefined, never>;
  /** SHA-256 (hex) of the old value a regenerate kept valid (never the value); null without one. */
  previous_key_hash: string | null;
  /** First characters of the old value, for display; null without one. */
  previous_start: string | null;
  /** When the old value stops working; null without one. */
  previous_expires_at: Timestamp | null;
  /** Client IP of the last recorded use. */
  last_used_ip: string | null;
  /** User-Agent of the last recorded use (bounded). */
  last_used_user_agent: string | null;
}

/** One rate limit of a key, as stored. */
export interface ApiKeyRateLimitJson {
  limit: number;
  window_seconds: number;
}

/** A key's budget, as stored. */
export interface ApiKeyBudgetJson {
  uses: number;
  refill_amount: number;
  refill_interval_seconds: number;
}

interface RefreshFamiliesTable {
  id: Generated<string>;
  user_id: string;
  created_at: CreatedAt;
  last_used_at: Timestamp;
  /** Absolute end of the session (AUTH_SESSION_MAX_LIFETIME after login). */
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  client_ip: string | null;
  user_agent: string | null;
  /**
   * The newest refresh token, AES-256-GCM-sealed under a key derived from the token it
   * replaced: a retry of that token inside the grace window gets the same token back.
   * Unreadable without that token; cleared once the grace window has passed.
   */
  sealed_successor: string | null;
  /** How the session was signed in: RFC 8176 `amr` values, space-separated ("" before migration 0013). */
  amr: ColumnType<string, string | undefined, string>;
  /** 2 when the sign-in passed a second factor, 1 otherwise. */
  assurance_level: ColumnType<number, number | undefined, number>;
}

interface RefreshTokensTable {
  id: Generated<string>;
  family_id: string;
  /** SHA-256 (hex) of the token. */
  token_hash: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  /** When this token was exchanged for its successor. At most one token per family has none (the live one). */
  rotated_at: Timestamp | null;
  replaced_by_id: string | null;
}

interface SigningKeysTable {
  /** The JWK `kid`. */
  id: string;
  alg: string;
  private_jwk: Json;
  public_jwk: Json;
  created_at: CreatedAt;
  /** Set when a newer key became active; the key stays published until `publish_until`. */
  retired_at: Timestamp | null;
  publish_until: Timestamp | null;
}

interface AuditEventsTable {
  id: Generated<string>;
  created_at: CreatedAt;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  account_id: string | null;
  action: string;
  client_ip: string | null;
  user_agent: string | null;
  metadata: Json;
}

interface LoginTransactionsTable {
  id: Generated<string>;
  /** SHA-256 (hex) of the client's `state`. */
  state_hash: string;
  nonce: string;
  provider_id: string;
  issuer: string;
  redirect_uri: string;
  code_challenge: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  /** Started by this signed-in user to link the provider's identity to it (migration 0006). */
  link_user_id: string | null;
}

/** The user AUTH_MODE=admin configured (one row at most). */
interface ConfiguredAdminTable {
  singleton: Generated<boolean>;
  user_id: string;
  /** When the admin's password (or the admin user) last changed: its access tokens from before are refused. */
  credentials_changed_at: Timestamp | null;
  updated_at: Generated<Date>;
}

/** What a revocation event names: see RevocationEvent in proto/tessera/v1/revocation.proto. */
export type RevocationKind = "api_key" | "user" | "session" | "signing_key" | "flush_all";

/** One revocation, in order (issue 16); kept 24 hours. */
interface RevocationEventsTable {
  /** bigint, parsed as a number (see db.ts). */
  sequence: Generated<number>;
  created_at: Generated<Date>;
  kind: RevocationKind;
  /** SHA-256 hex of the API key, a user id, a session id, a signing key id, or "" for flush_all. */
  target: string;
}

/** The newest sequence pruning deleted (one row). */
interface RevocationLogStateTable {
  singleton: Generated<boolean>;
  pruned_through: number;
}

/** A Tessera instance or a subscriber, with how far it applied the log. */
interface RevocationParticipantsTable {
  id: string;
  kind: "instance" | "subscriber";
  name: string;
  applied_sequence: number;
  last_seen_at: Date;
}

export interface Database {
  users: UsersTable;
  identities: IdentitiesTable;
  accounts: AccountsTable;
  memberships: MembershipsTable;
  invites: InvitesTable;
  email_tokens: EmailTokensTable;
  api_keys: ApiKeysTable;
  refresh_families: RefreshFamiliesTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  login_transactions: LoginTransactionsTable;
  configured_admin: ConfiguredAdminTable;
  revocation_events: RevocationEventsTable;
  revocation_log_state: RevocationLogStateTable;
  revocation_participants: RevocationParticipantsTable;
  device_logins: DeviceLoginsTable;
  user_totp: UserTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  account_client_certs: AccountClientCertsTable;
}

export type UserRow = Selectable<UsersTable>;
export type IdentityRow = Selectable<IdentitiesTable>;
export type AccountRow = Selectable<AccountsTable>;
export type InviteRow = Selectable<InvitesTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type RefreshFamilyRow = Selectable<RefreshFamiliesTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type NewAuditEvent = Insertable<AuditEventsTable>;
export type LoginTransactionRow = Selectable<LoginTransactionsTable>;
export type ConfiguredAdminRow = Selectable<ConfiguredAdminTable>;
export type RevocationEventRow = Selectable<RevocationEventsTable>;
export type RevocationParticipantRow = Selectable<RevocationParticipantsTable>;
