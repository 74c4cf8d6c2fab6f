/**
 * Kysely table types of mutual-TLS client certificates mapped to machine users
 * (migration 0010).
 */
import type { ColumnType, Generated, Selectable } from "kysely";

/** What a mapping compares: the certificate's thumbprint, its subject, or one of its subjectAltNames. */
export type ClientCertMatchKind = "thumbprint" | "subject" | "san";

/** A mapping from client certificates to a machine user of an account. */
export interface AccountClientCertsTable {
  id: Generated<string>;
  account_id: string;
  name: string;
  /** The mapping's machine user. */
  user_id: string;
  match_kind: ClientCertMatchKind;
  /** The thumbprint (base64url SHA-256 of the DER), subject or `TYPE:value` SAN, compared exactly. */
  match_value: string;
  /** The procedures its principal may call (`@tessera/sdk` scope syntax); empty: unrestricted. */
  scopes: ColumnType<string[], string[] | undefined, never>;
  created_at: ColumnType<Date, Date | string, never>;
  created_by_id: string | null;
}

export type AccountClientCertRow = Selectable<AccountClientCertsTable>;
