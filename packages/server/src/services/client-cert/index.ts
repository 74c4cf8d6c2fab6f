/**
 * ClientCertService: account admins map client certificates (mutual TLS) to machine
 * users of their account (auth/client-certs/auth.ts authenticates with them).
 * Thin handlers: principal -> policy -> store -> mapper.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { ClientCertService } from "@tessera/sdk/proto";
import { createScopeGrants } from "../../auth/policy/scope-grants.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import type { RevocationLog } from "../../auth/revocation/log.js";
import type { Deps } from "../../deps.js";
import { isUuid } from "../../lib/ids.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { insertMachineUser } from "../../store/api-keys.js";
import { deleteClientCertAndUser, findClientCertById, insertClientCert, listClientCertsByAccount } from "../../store/client-certs.js";
import { insertRevocations } from "../../store/revocation-log.js";
import type { AccountClientCertRow } from "../../store/schema.js";
import { isInstanceAdmin } from "../../store/users.js";
import { validMatch, validName } from "./input.js";
import { toWire } from "./mappers.js";

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

/** Builds the ClientCertService implementation; `forgetAll` drops this instance's cached certificate answers. */
export function createClientCertService(
  deps: Deps,
  revocations: Pick<RevocationLog, "published">,
  forgetAll: () => void,
): ServiceImpl<typeof ClientCertService> {
  const { db, access, audit, clock } = deps;
  const grants = createScopeGrants(deps.config.apiKeyExtraScopes);

  function auditEntry(ctx: HandlerContext, action: string, row: AccountClientCertRow) {
    const p = requirePrincipal(ctx);
    audit.record({
      action,
      actorUserId: p.userId,
      accountId: row.account_id,
      request: ctx.values.get(requestInfoKey),
      metadata: { client_cert_id: row.id, name: row.name, match: `${row.match_kind}:${row.match_value}`.slice(0, 300) },
    });
  }

  return {
    async createAccountClientCert(req, ctx) {
      const role = await access.authorize(ctx, req.accountId);
      const name = validName(req.name);
      const match = validMatch(req.match);
      const actor = requirePrincipal(ctx).userId;
      // The same rule as API keys: known scopes, never more than the creator may do.
      const scopes = await grants.check(req.scopes, { role, isInstanceAdmin: () => isInstanceAdmin(db.kysely, actor) });
      let row: AccountClientCertRow;
      try {
        row = await db.kysely.transaction().execute(async (trx) => {
          const userId = await insertMachineUser(trx, `client certificate: ${name}`);
          return insertClientCert(trx, {
            account_id: req.accountId,
            name,
            user_id: userId,
            match_kind: match.kind,
            match_value: match.value,
            scopes,
            created_by_id: isUuid(actor) ? actor : null,
            created_at: clock(),
          });
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConnectError(`a client certificate named "${name}" already exists in this account`, Code.AlreadyExists);
        throw e;
      }
      forgetAll();
      auditEntry(ctx, "clientcert.create.success", row);
      return { clientCert: toWire(row) };
    },

    async listAccountClientCerts(req, ctx) {
      await access.authorize(ctx, req.accountId);
      return { clientCerts: (await listClientCertsByAccount(db.kysely, req.accountId)).map(toWire) };
    },

    async deleteAccountClientCert(req, ctx) {
      const found = isUuid(req.id) ? await findClientCertById(db.kysely, req.id) : undefined;
      if (!found) {
        requirePrincipal(ctx);
        throw new ConnectError("client certificate not found", Code.NotFound);
      }
      await access.authorize(ctx, found.account_id, { viaResource: true, resourceName: "client certificate" });
      const deleted = await db.kysely.transaction().execute(async (trx) => {
        const row = await deleteClientCertAndUser(trx, found.id);
        if (!row) return undefined;
        // Its machine user's revocation evicts the mapping from every instance's cache.
        const sequence = await insertRevocations(trx, [{ kind: "user", target: row.user_id }]);
        return { row, sequence };
      });
      if (!deleted) throw new ConnectError("client certificate not found", Code.NotFound);
      await revocations.published(deleted.sequence);
      auditEntry(ctx, "clientcert.delete.success", deleted.row);
      return { revocationSequence: BigInt(deleted.sequence) };
    },
  };
}
