/**
 * TLS on the one port: each accepted TCP socket is wrapped in a server-side TLS socket
 * (TLS 1.2+, ALPN `h2` or `http/1.1`, no renegotiation), and handed on once the handshake
 * is done. With a
 * client CA, client certificates are asked for: a certificate that is presented and fails
 * verification is refused, and so is a connection without one when they are required.
 *
 * Certificates given as paths are re-read when the files change (checked every
 * TLS_RELOAD_INTERVAL_MS): new connections use the new context, open ones keep theirs. A
 * change that does not load (half-written files, a key that does not match) keeps the
 * old context and is logged; the next change is tried again.
 */
import { constants, createHash, X509Certificate } from "node:crypto";
import { unwatchFile, watchFile } from "node:fs";
import type net from "node:net";
import tls from "node:tls";
import { readPem, type TlsConfig } from "../config/config.js";
import type { Logger } from "../lib/logger.js";

/** What the server needs from TLS. */
export interface TlsTerminator {
  /** Starts the handshake on an accepted socket; `onSecure` gets the TLS socket once it is done (refused ones are destroyed). */
  accept(raw: net.Socket, onSecure: (sock: tls.TLSSocket) => void): void;
  /** Stops watching the files. */
  close(): void;
}

/** The context options from the sources as they are now (a path is read now). */
function contextOptions(config: TlsConfig): tls.SecureContextOptions {
  const options: tls.SecureContextOptions = {
    cert: readPem(config.cert),
    key: readPem(config.key),
    minVersion: "TLSv1.2",
    // No TLS 1.2 renegotiation: Node verifies a client certificate at the first handshake
    // only, and a renegotiated one (never verified) would be read as the connection's.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
  if (config.clientCa) options.ca = readPem(config.clientCa);
  // Throws here, not in the server, when the files do not make a context.
  tls.createSecureContext(options);
  return options;
}

/** Starts terminating TLS with `config` (already checked at startup). */
export function createTlsTerminator(config: TlsConfig, logger: Logger, handshakeTimeoutMs: number): TlsTerminator {
  const mutual = config.clientCa !== undefined;
  // Accepted sockets are handed to this server (it never listens); each handshake's
  // continuation is found by the connection's remote address and port, unique while open.
  const pending = new Map<string, (sock: tls.TLSSocket) => void>();
  const keyOf = (s: net.Socket) => `${s.remoteAddress}|${s.remotePort}`;
  const server = tls.createServer({
    ...contextOptions(config),
    ALPNProtocols: ["h2", "http/1.1"],
    requestCert: mutual,
    // Decided below, so that an optional certificate may be absent but never invalid.
    rejectUnauthorized: false,
    handshakeTimeout: handshakeTimeoutMs,
  });
  server.on("tlsClientError", (_e, sock) => sock.destroy());
  server.on("secureConnection", (sock) => {
    const onSecure = pending.get(keyOf(sock));
    pending.delete(keyOf(sock));
    if (!onSecure) return void sock.destroy();
    if (mutual) {
      const presented = sock.getPeerCertificate().raw !== undefined;
      if ((presented || config.clientAuth === "required") && !sock.authorized) {
        logger.info({ client_ip: sock.remoteAddress, reason: String(sock.authorizationError ?? "no client certificate") }, "TLS client refused");
        return void sock.destroy();
      }
    }
    onSecure(sock);
  });

  const paths = [config.cert, config.key, config.clientCa].flatMap((s) => (s && "path" in s ? [s.path] : []));
  const reload = () => {
    try {
      server.setSecureContext(contextOptions(config));
      logger.info({ files: paths }, "TLS certificates reloaded");
    } catch (e) {
      logger.warn({ err: { message: (e as Error).message }, files: paths }, "TLS certificates changed but do not load; still serving the previous ones");
    }
  };
  for (const p of paths) {
    watchFile(p, { interval: config.reloadIntervalMs, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) reload();
    });
  }

  return {
    accept(raw, onSecure) {
      const key = keyOf(raw);
      pending.set(key, onSecure);
      raw.once("close", () => pending.delete(key));
      server.emit("connection", raw);
    },
    close() {
      for (const p of paths) unwatchFile(p);
    },
  };
}

/** The verified client certificate of a connection: its RFC 8705 SHA-256 thumbprint (base64url), subject, SANs and end of validity. */
export interface ClientCertificate {
  thumbprint: string;
  subject: string;
  subjectAltNames: string[];
  expiresAt: Date;
}

const certs = new WeakMap<object, ClientCertificate | null>();

/** The verified client certificate of `sock` (computed once per connection), or undefined. */
export function clientCertificateOf(sock: unknown): ClientCertificate | undefined {
  // `authorized` is never reset once set: a later verification failure shows only in `authorizationError`.
  if (!(sock instanceof tls.TLSSocket) || !sock.authorized || sock.authorizationError) return undefined;
  let c = certs.get(sock);
  if (c === undefined) {
    const raw = sock.getPeerCertificate().raw;
    if (!raw) c = null;
    else {
      const x = new X509Certificate(raw);
      c = {
        thumbprint: createHash("sha256").update(raw).digest("base64url"),
        subject: x.subject.replace(/\n/g, ", "),
        subjectAltNames: x.subjectAltName ? x.subjectAltName.split(", ") : [],
        expiresAt: new Date(x.validTo),
      };
    }
    certs.set(sock, c);
  }
  return c ?? undefined;
}
