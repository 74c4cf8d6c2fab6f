/**
 * Client certificates (issue 20, mutual TLS): `api_keys.client_cert_thumbprint` binds a
 * key to one certificate (RFC 8705 `x5t#S256`: base64url SHA-256 of the DER certificate;
 * null: not bound), and `account_client_certs` maps certificates (one thumbprint, one
 * subject or one subjectAltName) to a machine user of an account, each with its scopes.
 * Frozen in time; uses `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("api_keys").addColumn("client_cert_thumbprint", "text").execute();
  await db.schema
    .createTable("account_client_certs")
    .addColumn("id", "uuid", (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn("account_id", "uuid", (c) => c.notNull().references("accounts.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("user_id", "uuid", (c) => c.notNull().unique().references("users.id").onDelete("cascade"))
    .addColumn("match_kind", "text", (c) => c.notNull().check(sql`match_kind in ('thumbprint', 'subject', 'san')`))
    .addColumn("match_value", "text", (c) => c.notNull())
    .addColumn("scopes", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("created_by_id", "uuid", (c) => c.references("users.id").onDelete("set null"))
    .addUniqueConstraint("account_client_certs_account_name_key", ["account_id", "name"])
    .execute();
  await db.schema.createIndex("account_client_certs_match").on("account_client_certs").columns(["match_kind", "match_value"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("account_client_certs").execute();
  await db.schema.alterTable("api_keys").dropColumn("client_cert_thumbprint").execute();
}
