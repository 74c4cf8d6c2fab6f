/**
 * API_KEY_EXTRA_SCOPES: scopes of services that embed Tessera (whose descriptors Tessera
 * cannot see), accepted when keys are created. Each entry is a scope in the SDK's syntax
 * (`jobs:write`, `greet.v1.GreetService/*`, ...), optionally followed by `@role`: the
 * least account role a key's creator needs to grant it (`jobs:write@admin`).
 */
import { parseScope } from "@tessera/sdk";
import { ConfigError } from "./config-error.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** An account role, as the configuration names it. */
type RoleWord = "viewer" | "member" | "admin";
const ROLES: readonly RoleWord[] = ["viewer", "member", "admin"];

/** One extra scope keys may be created with. */
export interface ExtraScope {
  scope: string;
  /** The least role in the account the key's creator needs (undefined: any role that may create keys). */
  minRole: RoleWord | undefined;
}

/** Reads API_KEY_EXTRA_SCOPES; a malformed entry stops startup naming it. */
export function apiKeyExtraScopes(env: Env): readonly ExtraScope[] {
  const words = read(env, V.API_KEY_EXTRA_SCOPES);
  const out = new Map<string, ExtraScope>();
  for (const word of words) {
    const at = word.lastIndexOf("@");
    const scope = at < 0 ? word : word.slice(0, at);
    const role = at < 0 ? undefined : word.slice(at + 1);
    if (role !== undefined && !ROLES.includes(role as RoleWord)) {
      throw new ConfigError("API_KEY_EXTRA_SCOPES", `"${word}": the role after @ must be one of ${ROLES.join(", ")}`);
    }
    if (!parseScope(scope)) {
      throw new ConfigError("API_KEY_EXTRA_SCOPES", `"${word}" is not a scope (name:verb, pkg.Service/Method, pkg.Service/*, pkg.Service:read)`);
    }
    if (scope === "*:read") throw new ConfigError("API_KEY_EXTRA_SCOPES", `"*:read" is always accepted; do not list it`);
    out.set(scope, Object.freeze({ scope, minRole: role as RoleWord | undefined }));
  }
  return Object.freeze([...out.values()]);
}
