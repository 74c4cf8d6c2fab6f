/**
 * The console's one SDK client (gRPC-web to the serving origin) and its token store.
 * Tokens live in sessionStorage: they survive a reload and the OpenID redirect within
 * the tab, are not shared with other tabs, and are gone when the tab closes.
 */
import { createLocalStorageTokenStore, createTesseraClient } from "@tessera/sdk";
import { AdminService } from "@tessera/sdk/proto";

/** The sessionStorage key holding the signed-in tokens. */
const TOKENS_KEY = "tessera.console.tokens";

/** Where the client keeps its tokens (sessionStorage, this tab only). */
export const tokenStore = createLocalStorageTokenStore(TOKENS_KEY, sessionStorage);

/** The Tessera client every page calls. */
export const tessera = createTesseraClient({ baseUrl: location.origin, protocol: "grpc-web", tokenStore });

/** AdminService, for the "Admin" pages (instance admins only). */
export const admin = tessera.client(AdminService);
