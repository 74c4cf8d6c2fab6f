/**
 * Client certificates as credentials (mutual TLS): a request without an Authorization
 * header whose connection presented a verified client certificate is authenticated as
 * the machine user an account mapped that certificate to (by thumbprint, subject or one
 * subjectAltName), with the principal of an API key of that account: role viewer, the
 * mapping's scopes, the same policy. The certificate itself was verified against
 * TLS_CLIENT_CA by the TLS layer (server/tls.ts); this only maps it.
 *
 * When several mappings of one account match, the most specific kind wins (thumbprint,
 * then subjectAltName, then subject); two of that kind are ambiguous and refused. Mappings
 * of different accounts matching one certificate are always refused, whatever their
 * kinds: any account admin can create a mapping, so precedence across accounts would let
 * one account take over another's certificate. So are certificates matching more mappings
 * than are read at once (an account could otherwise push another's mapping out of them). Answers are cached by thumbprint (the bounded cache): found mappings for
 * `ttlMs`, unknown certificates for `negativeTtlMs` (a mapping created on another
 * instance applies here within that; on this one at once). A deleted mapping or a disabled
 * machine user reaches every instance's cache through the revocation log (a `user`
 * event for its machine user), as for API keys; while the log cannot vouch for the
 * caches (`trusted()` false) every request reads the database.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { compileScopes } from "@tessera/sdk";
import type { Deps } from "../../deps.js";
import { BoundedCache } from "../../lib/bounded-cache.js";
import type { ClientCertInfo } from "../../lib/request-info.js";
import { findClientCertsMatching, type ClientCertAuthRow } from "../../store/client-certs.js";
import type { RevocationApplier } from "../revocation/log.js";
import type { Principal } from "../request/principal.js";

export interface ClientCertAuthOptions {
  /** Most cached certificates. */
  maxEntries?: number;
  /** How long a found mapping is trusted before the database is asked again. */
  ttlMs?: number;
  /** How long an unmapped certificate is answered from memory (a new mapping waits this long on other instances). */
  negativeTtlMs?: number;
  /** Whether cached entries may be used (the revocation log's `cachesTrusted`); always when absent. */
  trusted?: () => boolean;
  /** Why a mapping created by `createdById` is refused (AUTH_MODE=admin, as for API keys); all accepted when absent. */
  refuseCreator?: (createdById: string | null) => string | undefined;
}

export interface ClientCertAuth {
  /** The principal a verified certificate maps to; undefined when none maps it; Unauthenticated when refused. */
  authenticate(cert: ClientCertInfo): Promise<Principal | undefined>;
  /** Keeps the cache in step with the revocation log. */
  applier: RevocationApplier;
  /** Forgets every cached answer on this instance (after a mapping is created here). */
  forgetAll(): void;
}

/** SANs compared per certificate (a stranger's certificate cannot make the query unbounded). */
const MAX_SANS = 32;
const PRECEDENCE: readonly ClientCertAuthRow["match_kind"][] = ["thumbprint", "san", "subject"];
const FAR_FUTURE = new Date(8_640_000_000_000_000);

/** A cached answer, with the machine users it depends on (their revocation evicts it). */
type Answer = ({ principal: Extract<Principal, { kind: "api_key" }>; createdById: string | null } | { refusal: string } | { unmapped: true }) & {
  userIds: readonly string[];
};

/** The mapping a certificate selects among those it matches, or why it is refused. */
function choose(rows: readonly ClientCertAuthRow[]): ClientCertAuthRow | string | undefined {
  if (rows.length > 0 && rows[0]!.matches > rows.length) return "client certificate matches too many mappings";
  // Never precedence across accounts: another account's more specific mapping would take the certificate over.
  if (new Set(rows.map((r) => r.account_id)).size > 1) return "client certificate matches mappings of more than one account";
  for (const kind of PRECEDENCE) {
    const of = rows.filter((r) => r.match_kind === kind);
    if (of.length > 1) return "client certificate matches more than one mapping of the same kind";
    if (of.length === 1) return of[0]!;
  }
  return undefined;
}

/** Builds client-certificate authentication. */
export function createClientCertAuth(deps: Deps, opts: ClientCertAuthOptions = {}): ClientCertAuth {
  const ttlMs = opts.ttlMs ?? 30_000;
  const negativeTtlMs = opts.negativeTtlMs ?? 5_000;
  const cache = new BoundedCache<string, Answer>({ maxEntries: opts.maxEntries ?? 10_000, now: () => performance.now() });
  /** Bumped by every invalidation: loads that started before it are not cached. */
  let generation = 0;

  function purge(match: (a: Answer) => boolean): void {
    generation++;
    cache.deleteWhere(match);
  }

  async function load(cert: ClientCertInfo): Promise<Answer> {
    const gen = generation;
    const rows = await findClientCertsMatching(deps.db.kysely, cert, MAX_SANS);
    const chosen = choose(rows);
    const userIds = rows.map((r) => r.user_id);
    let answer: Answer;
    if (chosen === undefined) answer = { unmapped: true, userIds };
    else if (typeof chosen === "string") answer = { refusal: chosen, userIds };
    else if (chosen.user_disabled_at !== null) answer = { refusal: "client certificate's machine user disabled", userIds };
    else {
      answer = {
        userIds,
        createdById: chosen.created_by_id,
        principal: Object.freeze({
          kind: "api_key",
          userId: chosen.user_id,
          accountId: chosen.account_id,
          apiKeyId: chosen.id,
          clientCertId: chosen.id,
          expiresAt: cert.expiresAt ?? FAR_FUTURE,
          scopes: compileScopes(chosen.scopes),
          limits: undefined,
        }),
      };
    }
    if (gen === generation) cache.set(cert.thumbprint, answer, performance.now() + ("unmapped" in answer ? negativeTtlMs : ttlMs));
    return answer;
  }

  return {
    async authenticate(cert) {
      let answer = cache.get(cert.thumbprint);
      if (answer === undefined || (opts.trusted !== undefined && !opts.trusted())) answer = await load(cert);
      if ("unmapped" in answer) return undefined;
      if ("refusal" in answer) throw new ConnectError(answer.refusal, Code.Unauthenticated);
      if (answer.principal.expiresAt.getTime() <= deps.clock().getTime()) throw new ConnectError("client certificate expired", Code.Unauthenticated);
      const refused = opts.refuseCreator?.(answer.createdById);
      if (refused) throw new ConnectError(refused.replace("API key", "client certificate mapping"), Code.Unauthenticated);
      return answer.principal;
    },
    applier: {
      apply(event) {
        if (event.kind === "user") purge((a) => a.userIds.includes(event.target));
        else if (event.kind === "flush_all") purge(() => true);
      },
      flush: () => purge(() => true),
    },
    forgetAll: () => purge(() => true),
  };
}
