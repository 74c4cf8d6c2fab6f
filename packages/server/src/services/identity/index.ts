/**
 * IdentityService: the caller's provider identities. Listing shows which configured
 * provider each belongs to; unlinking refuses the caller's last way to sign in
 * (FailedPrecondition) and is audited. Linking is a provider login started while
 * signed in (AuthService.GetAuthorizeUrl with `link`).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "@tessera/sdk/proto";
import type { ProviderAuth } from "../../auth/providers/registry.js";
import { requirePrincipal } from "../../auth/request/principal.js";
import { providerIssuer } from "../../config/providers.js";
import type { Deps } from "../../deps.js";
import { requestInfoKey } from "../../lib/request-info.js";
import { listUserIdentities, unlinkIdentity } from "../../store/identities.js";
import { findUserById } from "../../store/users.js";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Builds the IdentityService implementation. */
export function createIdentityService(deps: Deps, providers: Pick<ProviderAuth, "issuers" | "identities">): ServiceImpl<typeof IdentityService> {
  const byIssuer = new Map(deps.config.providers.map((p) => [providerIssuer(p), p]));
  return {
    async listIdentities(_req, ctx) {
      const principal = requirePrincipal(ctx);
      const [rows, user] = await Promise.all([listUserIdentities(deps.db.kysely, principal.userId), findUserById(deps.db.kysely, principal.userId)]);
      return {
        identities: rows.map((r) => {
          const provider = byIssuer.get(r.issuer);
          return {
            id: r.id,
            providerId: provider?.id ?? "",
            providerName: provider?.name ?? "",
            issuer: r.issuer,
            subject: r.subject,
            email: r.email ?? "",
            emailVerified: r.email_verified,
            createdAt: timestampFromDate(r.created_at),
          };
        }),
        hasPassword: user?.password_hash != null,
      };
    },
    async unlinkIdentity(req, ctx) {
      const principal = requirePrincipal(ctx);
      if (!UUID_RE.test(req.id)) throw new ConnectError("identity not found", Code.NotFound);
      const result = await unlinkIdentity(deps.db.kysely, principal.userId, req.id.toLowerCase(), providers.issuers());
      const request = ctx.values.get(requestInfoKey);
      if (result === "not_found") throw new ConnectError("identity not found", Code.NotFound);
      if (result === "last_sign_in") {
        deps.audit.record({ action: "auth.identity.unlink.failure", actorUserId: principal.userId, request, metadata: { reason: "last_sign_in" } });
        throw new ConnectError("this is your last way to sign in: set a password or link another provider first", Code.FailedPrecondition);
      }
      providers.identities.clear();
      deps.audit.record({ action: "auth.identity.unlink.success", actorUserId: principal.userId, request, metadata: { identity_id: req.id } });
      return {};
    },
  };
}
