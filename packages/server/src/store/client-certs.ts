/**
 * Client-certificate mappings repository (mutual TLS): all SQL about
 * `account_client_certs` and their machine users. Returns rows or undefined, never
 * ConnectErrors; services own the transactions.
 */
import { sql, type Kysely } from "kysely";
import type { AccountClientCertRow, ClientCertMatchKind, Database } from "./schema.js";

/** What authentication needs of a mapping. */
export interface ClientCertAuthRow {
  id: string;
  account_id: string;
  user_id: string;
  match_kind: ClientCertMatchKind;
  scopes: string[];
  /** When the mapping's machine user was disabled, or null. */
  user_disabled_at: Date | null;
  /** Who created the mapping (null once that user is deleted). */
  created_by_id: string | null;
  /** How many mappings match the certificate in all (more than the rows read when the limit cut them). */
  matches: number;
}

/** Inserts a mapping (its machine user already inserted). */
export async function insertClientCert(
  db: Kysely<Database>,
  values: {
    account_id: string;
    name: string;
    user_id: string;
    match_kind: ClientCertMatchKind;
    match_value: string;
    scopes: string[];
    created_by_id: string | null;
    created_at: Date;
  },
): Promise<AccountClientCertRow> {
  return db.insertInto("account_client_certs").values(values).returningAll().executeTakeFirstOrThrow();
}

/** An account's mappings, oldest first. */
export async function listClientCertsByAccount(db: Kysely<Database>, accountId: string): Promise<AccountClientCertRow[]> {
  return db.selectFrom("account_client_certs").selectAll().where("account_id", "=", accountId).orderBy("created_at").orderBy("id").execute();
}

/** A mapping by id. */
export async function findClientCertById(db: Kysely<Database>, id: string): Promise<AccountClientCertRow | undefined> {
  return db.selectFrom("account_client_certs").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Deletes a mapping and its machine user; the deleted row, or undefined. */
export async function deleteClientCertAndUser(db: Kysely<Database>, id: string): Promise<AccountClientCertRow | undefined> {
  const row = await db.deleteFrom("account_client_certs").where("id", "=", id).returningAll().executeTakeFirst();
  if (!row) return undefined;
  await db.deleteFrom("users").where("id", "=", row.user_id).where("kind", "=", "machine").execute();
  return row;
}

/**
 * The mappings a certificate matches: by its thumbprint, its subject or any of its
 * subjectAltNames (at most `maxSans` of them are compared), in one query; the most
 * specific kind first (thumbprint, SAN, subject), at most 16; each row carries how many
 * match in all, so a caller knows when some were left out.
 */
export async function findClientCertsMatching(
  db: Kysely<Database>,
  cert: { thumbprint: string; subject: string; subjectAltNames: readonly string[] },
  maxSans: number,
): Promise<ClientCertAuthRow[]> {
  const sans = cert.subjectAltNames.slice(0, maxSans);
  return db
    .selectFrom("account_client_certs")
    .innerJoin("users", "users.id", "account_client_certs.user_id")
    .select([
      "account_client_certs.id",
      "account_client_certs.account_id",
      "account_client_certs.user_id",
      "account_client_certs.match_kind",
      "account_client_certs.scopes",
      "users.disabled_at as user_disabled_at",
      "account_client_certs.created_by_id",
      // Counted before the limit: a caller can tell that rows were left out.
      sql<number>`(count(*) over ())::int`.as("matches"),
    ])
    .where((eb) =>
      eb.or([
        eb.and([eb("match_kind", "=", "thumbprint"), eb("match_value", "=", cert.thumbprint)]),
        eb.and([eb("match_kind", "=", "subject"), eb("match_value", "=", cert.subject)]),
        ...(sans.length > 0 ? [eb.and([eb("match_kind", "=", "san"), eb("match_value", "in", sans)])] : []),
      ]),
    )
    .orderBy(sql`case account_client_certs.match_kind when 'thumbprint' then 0 when 'san' then 1 else 2 end`)
    .orderBy("account_client_certs.id")
    .limit(16)
    .execute();
}
