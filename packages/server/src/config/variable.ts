/**
 * What a declaration in the schema holds: one environment variable, with its parser,
 * default, section, description and flags. The schema (`schema.ts`) is a list of these;
 * `read()` (`parse.ts`) looks one up; the configuration reference is rendered from them.
 */
import type { Parser } from "./parse.js";

/** The sections of the configuration reference, in order, with their headings. */
export const SECTIONS = {
  server: "Server",
  database: "Database",
  logging: "Logging",
  limits: "Requests and connections",
  auth: "Sign-in mode",
  tokens: "Tokens and sessions",
  "api-keys": "API keys",
  oidc: "OpenID Connect provider",
  providers: "Identity providers",
  "admin-api": "Provider admin API",
  email: "Email: verification and password reset",
  mfa: "Second factor (TOTP)",
  network: "Browsers and proxies",
  redis: "Shared limits (Redis)",
  tls: "TLS and mutual TLS",
  operations: "Operations: metrics and traces",
} as const;

/** A section of the configuration reference. */
export type SectionId = keyof typeof SECTIONS;

/** One environment variable Tessera reads. */
export interface Variable<T = unknown> {
  /** The variable's name. */
  readonly name: string;
  /** Where the reference lists it. */
  readonly section: SectionId;
  /** What it means, one line of Markdown (the reviewed wording of the README's table). */
  readonly description: string;
  /** Turns its text into a value; also says what kind of value it takes. */
  readonly parser: Parser<T>;
  /** The value when unset (`undefined`: none; the code derives one or leaves the feature off). */
  readonly default: T | undefined;
  /** The default as the reference shows it when it is not just `default` (derived from other variables, required, ...). */
  readonly defaultText?: string;
  /** Holds a password or a credential: never logged or shown. */
  readonly secret?: boolean;
  /** This variable is a shorthand for a setting of another one (AUTH_ENABLED for AUTH_MODE). */
  readonly shorthandFor?: string;
  /** Deprecated names still read when this one is unset. */
  readonly aliases?: readonly string[];
}

/** A variable with a default: reading it always gives a value. */
export type VariableWithDefault<T> = Variable<T> & { readonly default: T };

/** Declares a variable; its type comes from the parser, and whether it can be unset from the default. */
export function variable<T>(v: Omit<Variable<T>, "default"> & { default: NoInfer<T> }): VariableWithDefault<T>;
export function variable<T>(v: Omit<Variable<T>, "default"> & { default: undefined }): Variable<T>;
export function variable<T>(v: Variable<T>): Variable<T> {
  return Object.freeze(v);
}
