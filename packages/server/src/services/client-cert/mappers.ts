/**
 * ClientCertService wire mapping: a mapping row as `tessera.v1.AccountClientCert`.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AccountClientCertRow } from "../../store/schema.js";

const CASE = { thumbprint: "thumbprint", subject: "subject", san: "subjectAltName" } as const;

/** A mapping row as the wire message. */
export function toWire(row: AccountClientCertRow) {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    userId: row.user_id,
    match: { case: CASE[row.match_kind], value: row.match_value },
    scopes: row.scopes,
    createdAt: timestampFromDate(new Date(row.created_at)),
    createdById: row.created_by_id ?? "",
  };
}
