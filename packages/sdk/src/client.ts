/**
 * `createTesseraClient`: a session with typed clients of the Tessera services most apps call.
 * Browser apps that use one or two services build a `createTesseraSession` and call
 * `session.client(Service)` instead, so their bundle leaves the others out.
 */
import type { Client } from "@connectrpc/connect";
import { ApiKeyService } from "./gen/tessera/v1/api_key_pb.js";
import { AuthService } from "./gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "./gen/tessera/v1/user_account_pb.js";
import { buildTesseraSession, type TesseraClientOptions, type TesseraSession, type TransportFactory } from "./session.js";

/** Typed clients for Tessera's three services, and the session helpers. */
export interface TesseraClient extends TesseraSession {
  auth: Client<typeof AuthService>;
  apiKeys: Client<typeof ApiKeyService>;
  userAccounts: Client<typeof UserAccountService>;
}

/** `createTesseraClient` with the transport factory of the entry point (browser or Node). */
export function buildTesseraClient(opts: TesseraClientOptions, makeTransport: TransportFactory): TesseraClient {
  const session = buildTesseraSession(opts, makeTransport);
  return {
    ...session,
    auth: session.client(AuthService),
    apiKeys: session.client(ApiKeyService),
    userAccounts: session.client(UserAccountService),
  };
}
