/**
 * The caller's client certificate, for API keys bound to one (RFC 8705 §3): the
 * interceptor refuses a bound key unless the request's connection presented that
 * verified certificate. Node's adapter does not pass the TLS socket to interceptors, so
 * the certificate reaches them through a context value, set by `clientCertContextValues`.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import { createContextKey, createContextValues, type ContextValues } from "@connectrpc/connect";

/** A verified client certificate: its SHA-256 thumbprint (base64url of the DER, RFC 8705 `x5t#S256`) and subject. */
export interface ClientCertificate {
  thumbprint: string;
  subject: string;
}

/** Context key holding the verified client certificate of the request's connection (undefined: none). */
export const clientCertificateKey = createContextKey<ClientCertificate | undefined>(undefined, { description: "tls client certificate" });

type NodeRequest = IncomingMessage | Http2ServerRequest;

/**
 * The verified client certificate of a Node request's connection, or undefined when the
 * connection is not TLS, presented none, or presented one that did not verify against
 * the server's `ca` (`authorized` false: with `rejectUnauthorized: false` such
 * connections get here, and their certificate must never count), or renegotiated to a
 * certificate that did not (`authorizationError` set).
 */
export function clientCertificateOf(req: NodeRequest): ClientCertificate | undefined {
  // HTTP/2: the connection is the session's socket (req.socket is a proxy of it).
  const sock = ("stream" in req ? req.stream.session?.socket : req.socket) as Partial<TLSSocket> | undefined;
  // Node never resets `authorized`: a certificate presented by TLS 1.2 renegotiation is not
  // verified, and its failure shows only in `authorizationError`.
  if (sock?.authorized !== true || sock.authorizationError || typeof sock.getPeerCertificate !== "function") return undefined;
  const peer = sock.getPeerCertificate();
  if (!peer?.raw) return undefined;
  const subject = Object.entries(peer.subject ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");
  return { thumbprint: createHash("sha256").update(peer.raw).digest("base64url"), subject };
}

/**
 * For `connectNodeAdapter({ contextValues })`: context values carrying the request's
 * verified client certificate, which the interceptor compares with a bound key's.
 * To add values of your own, start from it: `(req) => clientCertContextValues(req).set(myKey, ...)`.
 */
export function clientCertContextValues(req: NodeRequest): ContextValues {
  const values = createContextValues();
  const cert = clientCertificateOf(req);
  if (cert) values.set(clientCertificateKey, cert);
  return values;
}
