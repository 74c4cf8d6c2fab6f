/**
 * Parsers for environment values: each turns a variable's text into a value or throws a
 * ConfigError naming the variable, and says, for the configuration reference, what kind
 * of value it takes.
 */
import { ConfigError } from "./config-error.js";

/** Turns one variable's text into a value, or throws ConfigError naming `name`. */
export interface Parser<T> {
  /** What a value is, as the configuration reference shows it (Markdown). */
  readonly kind: string;
  /** Whether the value is used exactly as written: spaces kept, and set-but-empty is a value (secrets). */
  readonly verbatim?: boolean;
  /** The value, or undefined when the text holds none (a list of only separators): the default applies. */
  parse(text: string, name: string): T | undefined;
  /** A default value as the reference shows it (Markdown). */
  show(value: T): string;
}

const code = (s: string | number | boolean): string => `\`${s}\``;

/** `a`, `b` or `c`. */
function either(values: readonly string[]): string {
  const shown = values.map(code);
  return shown.length < 2 ? shown.join("") : `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}`;
}

/** Any text, trimmed. */
export function text(): Parser<string> {
  return { kind: "text", parse: (t) => t, show: code };
}

/** Any text used exactly as written, spaces included (passwords and client secrets). */
export function verbatim(): Parser<string> {
  return { kind: "text, used as written", verbatim: true, parse: (t) => t, show: (v) => (v === "" ? "empty" : code(v)) };
}

/** `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, in any case. */
export function bool(): Parser<boolean> {
  return {
    kind: "`true` or `false`",
    parse(t, name) {
      const l = t.toLowerCase();
      if (["true", "1", "yes", "on"].includes(l)) return true;
      if (["false", "0", "no", "off"].includes(l)) return false;
      throw new ConfigError(name, `expected true or false, got "${t}"`);
    },
    show: code,
  };
}

/** A whole number from `min` to `max`. */
export function int(min: number, max: number): Parser<number> {
  return {
    kind: `whole number, ${min} to ${max}`,
    parse(t, name) {
      if (!/^\d+$/.test(t)) throw new ConfigError(name, `expected a whole number, got "${t}"`);
      const n = Number(t);
      if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
      return n;
    },
    show: code,
  };
}

/** A number from 0 to 1 (a fraction). */
export function ratio(): Parser<number> {
  return {
    kind: "number, 0 to 1",
    parse(t, name) {
      const n = Number(t);
      if (!/^\d*\.?\d+$/.test(t) || n > 1) throw new ConfigError(name, `expected a number from 0 to 1, got "${t}"`);
      return n;
    },
    show: (v) => `\`${v}\``,
  };
}

/** One of `values`, in any case; the value is lower-cased. */
export function oneOf<const V extends string>(values: readonly V[]): Parser<V> {
  return {
    kind: either(values),
    parse(t, name) {
      const l = t.toLowerCase();
      const found = values.find((v) => v === l);
      if (found !== undefined) return found;
      const problem = values.length === 2 ? `must be ${values.join(" or ")}, got "${t}"` : `must be one of ${values.join(", ")}; got "${t}"`;
      throw new ConfigError(name, problem);
    },
    show: code,
  };
}

/**
 * Words separated by commas or spaces. With `allowed`, every word must be one of them
 * (exactly, case included); `noun` names a word in the error.
 */
export function list(allowed?: { values: readonly string[]; noun: string }): Parser<string[]> {
  return {
    kind: allowed === undefined ? "list, comma- or space-separated" : `list of ${allowed.values.map(code).join(", ")}`,
    parse(t, name) {
      const words = t
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter((s) => s !== "");
      const wrong = allowed === undefined ? undefined : words.find((w) => !allowed.values.includes(w));
      if (allowed !== undefined && wrong !== undefined) {
        throw new ConfigError(name, `unsupported ${allowed.noun} "${wrong}" (allowed: ${allowed.values.join(", ")})`);
      }
      return words.length > 0 ? words : undefined;
    },
    show: (v) => code(v.join(" ")),
  };
}

/** An http: or https: URL; trailing slashes are dropped. */
export function httpUrl(): Parser<string> {
  return {
    kind: "http(s) URL",
    parse(t, name) {
      let u: URL;
      try {
        u = new URL(t);
      } catch {
        throw new ConfigError(name, `not a valid URL: "${t}"`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") {
        throw new ConfigError(name, `must be an http(s) URL, got "${t}"`);
      }
      return t.replace(/\/+$/, "");
    },
    show: code,
  };
}

/** A PostgreSQL connection URL (`postgres://` or `postgresql://`), used as written. */
export function postgresUrl(): Parser<string> {
  return {
    kind: "`postgres://` URL",
    parse(t, name) {
      if (!/^postgres(ql)?:\/\//.test(t)) throw new ConfigError(name, "must start with postgres:// or postgresql://");
      return t;
    },
    show: code,
  };
}

/** An `smtp://` or `smtps://` URL with a host, used as written (it may hold a password: an error never echoes it). */
export function smtpUrl(): Parser<string> {
  return {
    kind: "`smtp://` or `smtps://` URL",
    parse(t, name) {
      let u: URL | undefined;
      try {
        u = new URL(t);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== "smtp:" && u.protocol !== "smtps:") || u.hostname === "") {
        throw new ConfigError(name, "must be an smtp:// or smtps:// URL with a host");
      }
      return t;
    },
    show: code,
  };
}
