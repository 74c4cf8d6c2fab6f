/**
 * Plain HTTP beside the RPCs: the handler type that health, CORS, JWKS, the console and
 * the local-only guard implement, and the one way they answer JSON.
 */
import type http from "node:http";
import type http2 from "node:http2";

/** A Node request on either protocol (HTTP/1.1 or HTTP/2). */
export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** A Node response on either protocol (HTTP/1.1 or HTTP/2). */
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A plain HTTP handler for a path outside the RPC routes; returns false to pass. */
export type HttpHandler = (req: NodeRequest, res: NodeResponse) => boolean | Promise<boolean>;

/** Writes a JSON response. */
export function sendJson(res: NodeResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}
