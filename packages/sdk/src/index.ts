/**
 * The Tessera SDK for browsers (and any fetch-based runtime): typed clients for
 * AuthService, ApiKeyService and UserAccountService over Connect or gRPC-web, with
 * the bearer added and tokens refreshed for you. Nothing here imports `node:`
 * modules; Node programs that want gRPC use `tessera/sdk/node`.
 *
 * ```ts
 * const tessera = createTesseraClient({ baseUrl: "https://auth.example.com", apiKey });
 * const me = await tessera.auth.checkToken({});
 * ```
 */
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { buildTesseraClient, type TesseraClient, type TesseraClientOptions, type TransportFactory } from "./client.js";

export * from "./common.js";

/** Fetch-based transports: Connect or gRPC-web. gRPC needs HTTP/2 trailers, which browsers cannot read. */
export const webTransport: TransportFactory = ({ baseUrl, protocol, fetch }) => {
  switch (protocol) {
    case "connect":
      return createConnectTransport({ baseUrl, fetch });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, fetch });
    case "grpc":
      throw new TypeError('createTesseraClient: protocol "grpc" is not possible in browsers; use "grpc-web" or "connect" (or tessera/sdk/node in Node)');
    default:
      throw new TypeError(`createTesseraClient: unknown protocol ${JSON.stringify(protocol)}`);
  }
};

/** Creates a Tessera client over Connect (default) or gRPC-web. */
export function createTesseraClient(opts: TesseraClientOptions): TesseraClient {
  return buildTesseraClient(opts, webTransport);
}
