/**
 * ApiKeyService: create, list, get, regenerate (with an overlap), revoke an old value
 * and delete account API keys.
 * - handlers.ts: the RPCs (principal -> policy -> store -> mapper), the complete
 *   `ServiceImpl`; the key value is returned only by create and regenerate, never logged
 * - input.ts: name, expiry, limits and overlap rules
 * - rotation.ts: what a regenerate does to the key's values (overlap, revocations)
 * - mappers.ts: rows to the wire
 */
export { createApiKeyService } from "./handlers.js";
