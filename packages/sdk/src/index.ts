/**
 * The Tessera SDK for browsers (and any fetch-based runtime): typed clients for
 * AuthService, ApiKeyService and UserAccountService over Connect or gRPC-web, with
 * the bearer added and tokens refreshed for you. Nothing here imports `node:`
 * modules; Node programs that want gRPC use `@tessera/sdk/node`.
 *
 * ```ts
 * const tessera = createTesseraClient({ baseUrl: "https://auth.example.com", apiKey });
 * const me = await tessera.auth.checkToken({});
 * // or, for a smaller bundle, only the services you use:
 * const session = createTesseraSession({ baseUrl: "https://auth.example.com" });
 * const auth = session.client(AuthService);
 * ```
 */
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { buildTesseraClient, type TesseraClient } from "./client.js";
import { buildTesseraSession, type TesseraClientOptions, type TesseraSession, type TransportFactory } from "./session.js";

export * from "./common.js";

/** Fetch-based transports: Connect or gRPC-web. gRPC needs HTTP/2 trailers, which browsers cannot read. */
export const webTransport: TransportFactory = ({ baseUrl, protocol, fetch }) => {
  switch (protocol) {
    case "connect":
      return createConnectTransport({ baseUrl, fetch });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, fetch });
    case "grpc":
      throw new TypeError('createTesseraClient: protocol "grpc" is not possible in browsers; use "grpc-web" or "connect" (or @tessera/sdk/node in Node)');
    default:
      throw new TypeError(`createTesseraClient: unknown protocol ${JSON.stringify(protocol)}`);
  }
};

/** Creates a Tessera client of all three services over Connect (default) or gRPC-web. */
export function createTesseraClient(opts: TesseraClientOptions): TesseraClient {
  return buildTesseraClient(opts, webTransport);
}

/** Creates a Tessera session (credentials, refresh, sign-in) whose `client(Service)` makes typed clients. */
export function createTesseraSession(opts: TesseraClientOptions): TesseraSession {
  return buildTesseraSession(opts, webTransport);
}
