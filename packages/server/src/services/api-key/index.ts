/**
 * ApiKeyService: create, list, get, regenerate and delete account API keys.
 * - handlers.ts: the RPCs (principal -> policy -> store -> mapper), the complete
 *   `ServiceImpl`; the key value is returned only by create and regenerate, never logged
 * - input.ts: name and expiry rules
 * - mappers.ts: rows to the wire
 */
export { createApiKeyService } from "./handlers.js";
