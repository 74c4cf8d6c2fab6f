/**
 * Which scopes a key may be created with, and by whom. A scope is known when it grants
 * something in Tessera's own services (read from their descriptors: `scopesOf`) or is
 * listed in API_KEY_EXTRA_SCOPES (scopes of services that embed Tessera). No escalation:
 * a scope naming procedures (`name:verb` or `pkg.Service/Method`) is refused when its
 * creator could not call one of them (the procedure needs a higher account role, or an
 * instance admin), and an extra scope with `@role` needs that role in the account.
 * Wildcards (`pkg.Service/*`, `:read`) are accepted: at run time the policy still
 * applies to every call, and for keys it follows their creator (API_KEY_ROLE,
 * `instance_admin_or_admin_key`).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import { parseScope, scopeGrants, scopesOf } from "@tessera/sdk";
import type { ExtraScope } from "../../config/config.js";
import type { RoleName } from "../../store/schema.js";
import { roleAtLeast, ruleFor, type Rule } from "./policy.js";
import { TESSERA_SERVICES } from "./services.js";

/** Most scopes on one key. */
const MAX_SCOPES_PER_KEY = 32;

/** Who is creating the key, in the account it is for. */
interface ScopeGrantor {
  role: RoleName;
  isInstanceAdmin(): Promise<boolean>;
}

export interface ScopeGrants {
  /** Every scope a key may be created with, sorted (console pickers). */
  known(): readonly string[];
  /** The requested scopes, deduplicated; InvalidArgument naming an unknown one, PermissionDenied for an escalation. */
  check(requested: readonly string[], grantor: ScopeGrantor): Promise<string[]>;
}

/** What a rule asks of whoever calls: an account role, an instance admin, or nothing. */
function needOf(rule: Rule | undefined): RoleName | "instance_admin" | undefined {
  if (!rule) return "instance_admin";
  switch (rule.access) {
    case "account":
      return rule.role;
    case "instance_admin":
    case "instance_admin_or_admin_key":
      return "instance_admin";
    default:
      return undefined;
  }
}

function permissionDenied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Shows a requested string in an error without echoing a long input. */
function shown(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** Builds the scope rules from Tessera's services and the configured extra scopes. */
export function createScopeGrants(extra: readonly ExtraScope[]): ScopeGrants {
  const own = scopesOf(TESSERA_SERVICES);
  const ownSet = new Set(own);
  const extraByScope = new Map(extra.map((e) => [e.scope, e]));
  const known = Object.freeze([...new Set([...own, ...extraByScope.keys()])].sort());
  const methods: DescMethod[] = TESSERA_SERVICES.flatMap((s) => s.methods);
  const ownServices = new Set(TESSERA_SERVICES.map((svc) => svc.typeName));
  // The highest role any configured scope asks for: a key that reaches the embedding
  // services' procedures wholesale (no scopes, `*:read`, a wildcard over a service that
  // is not Tessera's) reaches those too, so only a creator with that role may make one.
  const gate = extra.reduce<RoleName | undefined>((top, e) => (e.minRole && (!top || roleAtLeast(e.minRole, top)) ? e.minRole : top), undefined);
  const wholesale = (s: string) => {
    const parsed = parseScope(s);
    return parsed?.kind === "read"
      ? parsed.service === undefined || !ownServices.has(parsed.service)
      : parsed?.kind === "service" && !ownServices.has(parsed.service);
  };

  return {
    known: () => known,
    async check(requested, grantor) {
      const scopes = [...new Set(requested)];
      if (scopes.length > MAX_SCOPES_PER_KEY) throw invalid(`a key has at most ${MAX_SCOPES_PER_KEY} scopes`);
      let instanceAdmin: boolean | undefined;
      const broad = scopes.length === 0 ? "a key without scopes" : scopes.filter(wholesale).map((x) => `scope ${shown(x)}`)[0];
      if (gate && broad && !roleAtLeast(grantor.role, gate)) {
        throw permissionDenied(
          `${broad} reaches every procedure of the services that embed Tessera, some of which need role ${gate}: name the scopes the key needs`,
        );
      }
      for (const s of scopes) {
        const parsed = parseScope(s);
        if (!parsed) throw invalid(`unknown scope ${shown(s)}: not a scope (name:verb, pkg.Service/Method, pkg.Service/*, pkg.Service:read or *:read)`);
        const ex = extraByScope.get(s);
        if (!ownSet.has(s) && !ex) throw invalid(`unknown scope ${shown(s)}: no procedure of Tessera declares it and API_KEY_EXTRA_SCOPES does not list it`);
        if (ex?.minRole && !roleAtLeast(grantor.role, ex.minRole)) throw permissionDenied(`scope ${shown(s)} needs role ${ex.minRole} in the account`);
        if (parsed.kind !== "declared" && parsed.kind !== "procedure") continue;
        for (const m of methods) {
          if (!scopeGrants(parsed, m)) continue;
          const need = needOf(ruleFor(m.parent.typeName, m.name));
          if (need === undefined) continue;
          if (need === "instance_admin") {
            instanceAdmin ??= await grantor.isInstanceAdmin();
            if (!instanceAdmin) throw permissionDenied(`scope ${shown(s)} needs an instance admin (${m.parent.name}/${m.name})`);
          } else if (!roleAtLeast(grantor.role, need)) {
            throw permissionDenied(`scope ${shown(s)} needs role ${need} in the account (${m.parent.name}/${m.name})`);
          }
        }
      }
      return scopes;
    },
  };
}
