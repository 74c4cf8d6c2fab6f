/**
 * Issue 13, finding 1: a session (refresh family) has at most one live refresh token.
 * - Families forked before this fix (several unrotated tokens) keep their newest token;
 *   the others are marked superseded by it, so presenting one later is reuse and revokes
 *   the family.
 * - An exclusion constraint makes "one unrotated token per family" a database rule. It is
 *   checked at commit (deferred) so a rotation may insert the successor and mark its
 *   predecessor in either order, as servers of the previous version still do during a
 *   rolling upgrade; a second live branch fails the transaction.
 * - `refresh_families.sealed_successor`: the newest token sealed under the token it
 *   replaced, so a retry of that token inside the grace window gets the same token back.
 * Frozen in time: `Kysely<any>` on purpose.
 */
import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    update refresh_tokens t
       set rotated_at = now(), replaced_by_id = h.id
      from (select distinct on (family_id) id, family_id
              from refresh_tokens
             where rotated_at is null
             order by family_id, created_at desc, id desc) h
     where t.family_id = h.family_id and t.rotated_at is null and t.id <> h.id`.execute(db);
  await sql`
    alter table refresh_tokens
      add constraint refresh_tokens_one_live_per_family
      exclude using btree (family_id with =) where (rotated_at is null)
      deferrable initially deferred`.execute(db);
  await db.schema.alterTable("refresh_families").addColumn("sealed_successor", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("refresh_families").dropColumn("sealed_successor").execute();
  await sql`alter table refresh_tokens drop constraint refresh_tokens_one_live_per_family`.execute(db);
}
