/**
 * Rows every deployment knows by id: the anonymous user and default account of
 * AUTH_MODE=none (created by `bootstrap.ts`, retired when another mode starts).
 */

/** The fixed anonymous user of AUTH_MODE=none. */
export const ANONYMOUS_USER_ID = "00000000-0000-0000-0000-000000000001";
/** The default account of AUTH_MODE=none, owned by the anonymous user. */
export const DEFAULT_ACCOUNT_ID = "00000000-0000-0000-0000-000000000002";
