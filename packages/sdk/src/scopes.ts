/**
 * API-key scopes, read from the contract. A procedure's scope is the
 * `(tessera.v1.scope)` method option of its generated descriptor (e.g. `jobs:write`),
 * or, when it declares none, its full name `pkg.Service/Method`. A key's scope grants:
 *
 * - `name:verb` (e.g. `jobs:read`): every procedure declaring exactly that option;
 * - `pkg.Service/Method`: that procedure (whatever it declares);
 * - `pkg.Service/*`: every procedure of the service;
 * - `pkg.Service:read`: every procedure of the service marked `NO_SIDE_EFFECTS`;
 * - `*:read`: every procedure of every service marked `NO_SIDE_EFFECTS`.
 *
 * Browser-safe (no `node:` imports): Tessera's own interceptor, `@tessera/connect` and
 * the console use the same functions.
 */
import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { scope as scopeOption } from "./gen/tessera/v1/options_pb.js";

/** What `(tessera.v1.scope)` must look like: a lowercase name and verb, e.g. `jobs:write`. */
export const DECLARED_SCOPE_PATTERN = /^[a-z][a-z0-9_-]{0,39}:[a-z][a-z0-9_-]{0,39}$/;

/** Most characters of one scope string (longer ones are not scopes). */
const MAX_SCOPE_LENGTH = 300;
const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
/** `pkg.Service/Method` or `pkg.Service/*` (the package may be empty). */
const PROCEDURE_PATTERN = new RegExp(`^((?:${IDENT}\\.)*${IDENT})/(${IDENT}|\\*)$`);
/** `pkg.Service:read` (with a package, so never a declared `name:verb`) or `*:read`. */
const READ_PATTERN = new RegExp(`^(\\*|(?:${IDENT}\\.)+${IDENT}):read$`);

/** One scope string, understood. */
export type ParsedScope =
  /** `name:verb`: procedures declaring it. */
  | { kind: "declared"; scope: string }
  /** `pkg.Service/Method`. */
  | { kind: "procedure"; service: string; method: string }
  /** `pkg.Service/*`. */
  | { kind: "service"; service: string }
  /** `pkg.Service:read` (`service` set) or `*:read` (`service` undefined). */
  | { kind: "read"; service: string | undefined };

/** Parses a scope string; undefined when it has none of the shapes above. */
export function parseScope(s: string): ParsedScope | undefined {
  if (s.length === 0 || s.length > MAX_SCOPE_LENGTH) return undefined;
  if (DECLARED_SCOPE_PATTERN.test(s)) return { kind: "declared", scope: s };
  const read = READ_PATTERN.exec(s);
  if (read) return { kind: "read", service: read[1] === "*" ? undefined : read[1] };
  const proc = PROCEDURE_PATTERN.exec(s);
  if (proc) return proc[2] === "*" ? { kind: "service", service: proc[1]! } : { kind: "procedure", service: proc[1]!, method: proc[2]! };
  return undefined;
}

/** What matching needs to know of a procedure, read once from its descriptor. */
interface ProcedureFacts {
  service: string;
  method: string;
  /** The declared `(tessera.v1.scope)`, if any. */
  declared: string | undefined;
  readOnly: boolean;
}

const facts = new WeakMap<DescMethod, ProcedureFacts>();

function factsOf(method: DescMethod): ProcedureFacts {
  let f = facts.get(method);
  if (!f) {
    const declared = hasOption(method, scopeOption) ? getOption(method, scopeOption) : undefined;
    f = {
      service: method.parent.typeName,
      method: method.name,
      declared: declared === "" ? undefined : declared,
      readOnly: method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
    };
    facts.set(method, f);
  }
  return f;
}

/** The procedure's declared `(tessera.v1.scope)`, if any (not validated). */
export function declaredScope(method: DescMethod): string | undefined {
  return factsOf(method).declared;
}

/** The scope a procedure needs: its `(tessera.v1.scope)` option, else `pkg.Service/Method`. */
export function procedureScope(method: DescMethod): string {
  const f = factsOf(method);
  return f.declared ?? `${f.service}/${f.method}`;
}

/** Whether one parsed scope grants the procedure. */
export function scopeGrants(scope: ParsedScope, method: DescMethod): boolean {
  const f = factsOf(method);
  switch (scope.kind) {
    case "declared":
      return f.declared === scope.scope;
    case "procedure":
      return f.service === scope.service && f.method === scope.method;
    case "service":
      return f.service === scope.service;
    case "read":
      return f.readOnly && (scope.service === undefined || scope.service === f.service);
  }
}

/** A key's scopes, parsed once; `allows(method)` for every request. */
export interface ScopeSet {
  /** The scope strings as given. */
  readonly scopes: readonly string[];
  /** False for a key without scopes (it may call whatever its role allows). */
  readonly restricted: boolean;
  /** Whether the scopes grant the procedure (always true when not restricted). */
  allows(method: DescMethod): boolean;
}

const UNRESTRICTED: ScopeSet = Object.freeze({ scopes: Object.freeze([]) as readonly string[], restricted: false, allows: () => true });

/**
 * Compiles a key's scopes. An empty list is unrestricted; strings that are not scopes
 * grant nothing (a restricted key stays restricted).
 */
export function compileScopes(scopes: readonly string[]): ScopeSet {
  if (scopes.length === 0) return UNRESTRICTED;
  const parsed = scopes.map(parseScope).filter((s): s is ParsedScope => s !== undefined);
  const decided = new WeakMap<DescMethod, boolean>();
  return Object.freeze({
    scopes: Object.freeze([...scopes]),
    restricted: true,
    allows(method: DescMethod): boolean {
      let ok = decided.get(method);
      if (ok === undefined) {
        ok = parsed.some((s) => scopeGrants(s, method));
        decided.set(method, ok);
      }
      return ok;
    },
  });
}

/**
 * The RFC 6750 challenge for a procedure the key's scopes do not grant:
 * `Bearer realm="...", error="insufficient_scope", scope="<the procedure's scope>"`.
 */
export function insufficientScopeChallenge(method: DescMethod, realm = "tessera"): string {
  return `Bearer realm="${realm}", error="insufficient_scope", scope="${procedureScope(method)}"`;
}

/**
 * Every scope that grants something in `services`, for pickers and validation: each
 * declared scope, each procedure's full name, `pkg.Service/*`, `pkg.Service:read` for
 * services with read-only procedures, and `*:read`. Sorted, without duplicates.
 */
export function scopesOf(services: readonly DescService[]): string[] {
  const out = new Set<string>(["*:read"]);
  for (const s of services) {
    out.add(`${s.typeName}/*`);
    for (const m of s.methods) {
      const f = factsOf(m);
      out.add(`${f.service}/${f.method}`);
      if (f.declared) out.add(f.declared);
      if (f.readOnly) out.add(`${f.service}:read`);
    }
  }
  return [...out].sort();
}
