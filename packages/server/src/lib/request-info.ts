/**
 * Facts about the HTTP request that handlers and the audit trail need: the client
 * IP (from the socket, or X-Forwarded-For when TRUST_PROXY_HOPS is set) and the user agent.
 */
import { createContextKey } from "@connectrpc/connect";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";

/** A verified client certificate: its RFC 8705 SHA-256 thumbprint (base64url), subject, SANs (`TYPE:value`) and end of validity. */
export interface ClientCertInfo {
  thumbprint: string;
  subject: string;
  subjectAltNames: string[];
  expiresAt?: Date;
}

export interface RequestInfo {
  clientIp: string;
  userAgent: string;
  /** The verified client certificate of a mutual-TLS connection. */
  clientCert?: ClientCertInfo;
}

/** Context key holding the RequestInfo of the current request. */
export const requestInfoKey = createContextKey<RequestInfo>({ clientIp: "", userAgent: "" }, { description: "request info" });

/** Reads the client IP and user agent of a Node request. */
export function readRequestInfo(req: IncomingMessage | Http2ServerRequest, trustProxyHops: number): RequestInfo {
  let clientIp = req.socket?.remoteAddress ?? "";
  if (trustProxyHops > 0) {
    const xff = req.headers["x-forwarded-for"];
    const raw = Array.isArray(xff) ? xff.join(",") : xff;
    if (raw) {
      const hops = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      // The entry appended by the outermost trusted proxy is `trustProxyHops` from the end.
      const idx = hops.length - trustProxyHops;
      if (idx >= 0 && hops[idx]) clientIp = hops[idx];
      else if (hops.length > 0) clientIp = hops[0]!;
    }
  }
  // An IPv4 client on a dual-stack socket (`::ffff:192.0.2.5`) is shown as its IPv4 address.
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(clientIp)) clientIp = clientIp.slice(7);
  const ua = req.headers["user-agent"];
  return { clientIp: clientIp.slice(0, 64), userAgent: (typeof ua === "string" ? ua : "").slice(0, 512) };
}
