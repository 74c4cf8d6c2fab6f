/**
 * `read()`: the one function that looks a declared variable up in the environment.
 */
import type { Variable, VariableWithDefault } from "./variable.js";

/** The environment as `loadConfig()` sees it. */
export type Env = Record<string, string | undefined>;

/**
 * The value of a declared variable (or of its first deprecated alias that is set), parsed;
 * its default when unset. Text is trimmed and blank counts as unset, except for verbatim
 * variables, whose value is taken as written.
 */
export function read<T>(env: Env, v: VariableWithDefault<T>): T;
export function read<T>(env: Env, v: Variable<T>): T | undefined;
export function read<T>(env: Env, v: Variable<T>): T | undefined {
  for (const name of [v.name, ...(v.aliases ?? [])]) {
    const raw = env[name];
    if (raw === undefined) continue;
    const t = v.parser.verbatim ? raw : raw.trim();
    if (t === "" && !v.parser.verbatim) continue;
    return v.parser.parse(t, name) ?? fresh(v.default);
  }
  return fresh(v.default);
}

/** A default list is copied, so no Config shares (or can change) the schema's. */
function fresh<D>(value: D): D {
  return (Array.isArray(value) ? [...value] : value) as D;
}

/**
 * The raw value of a variable named at run time by another setting (a provider's
 * `client_secret_env`), or undefined when unset or empty. Not declared in the schema: the
 * operator chooses its name.
 */
export function readNamed(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}
