/**
 * The Tessera SDK for Node: the same API as the browser entry, over
 * `@connectrpc/connect-node` transports, so `protocol: "grpc"` (HTTP/2) works too.
 * Connect and gRPC-web use HTTP/1.1; gRPC uses HTTP/2 (cleartext with prior
 * knowledge for `http://` URLs). With a `fetch` option, Connect and gRPC-web go
 * through that fetch instead.
 */
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { buildTesseraClient, type TesseraClient } from "./client.js";
import { buildTesseraSession, type TesseraClientOptions, type TesseraSession, type TransportFactory } from "./session.js";
import { webTransport } from "./index.js";

export * from "./common.js";

/** Node transports: Connect and gRPC-web over HTTP/1.1, gRPC over HTTP/2. */
export const nodeTransport: TransportFactory = (o) => {
  switch (o.protocol) {
    case "grpc":
      return createGrpcTransport({ baseUrl: o.baseUrl });
    case "grpc-web":
      return o.fetch ? webTransport(o) : createGrpcWebTransport({ baseUrl: o.baseUrl, httpVersion: "1.1" });
    case "connect":
      return o.fetch ? webTransport(o) : createConnectTransport({ baseUrl: o.baseUrl, httpVersion: "1.1" });
    default:
      throw new TypeError(`createTesseraClient: unknown protocol ${JSON.stringify(o.protocol)}`);
  }
};

/** Creates a Tessera client of all three services over Connect (default), gRPC-web or gRPC. */
export function createTesseraClient(opts: TesseraClientOptions): TesseraClient {
  return buildTesseraClient(opts, nodeTransport);
}

/** Creates a Tessera session (credentials, refresh, sign-in) whose `client(Service)` makes typed clients. */
export function createTesseraSession(opts: TesseraClientOptions): TesseraSession {
  return buildTesseraSession(opts, nodeTransport);
}
