/**
 * The declarative schema: every environment variable Tessera reads, declared once
 * (`schema-server.ts`, `schema-auth.ts`, `schema-providers.ts`, `schema-email.ts`, `schema-mfa.ts`, `schema-ops.ts`). `loadConfig()` reads them only through
 * `read(env, VARIABLES.X)`; the configuration reference (docs/configuration.md) is
 * rendered from them by `npm run docs:config`.
 */
import { AUTH_VARIABLES } from "./schema-auth.js";
import { OPS_VARIABLES } from "./schema-ops.js";
import { PROVIDER_VARIABLES } from "./schema-providers.js";
import { EMAIL_VARIABLES } from "./schema-email.js";
import { MFA_VARIABLES } from "./schema-mfa.js";
import { SERVER_VARIABLES } from "./schema-server.js";
import type { Variable } from "./variable.js";

export { SECTIONS, type SectionId, type Variable } from "./variable.js";

/** Every variable, by name. */
export const VARIABLES = { ...SERVER_VARIABLES, ...AUTH_VARIABLES, ...PROVIDER_VARIABLES, ...EMAIL_VARIABLES, ...MFA_VARIABLES, ...OPS_VARIABLES } as const;

/** Every variable, in the reference's order within each section. */
export const VARIABLE_LIST: readonly Variable[] = Object.values(VARIABLES) as readonly Variable[];
