/**
 * TLS on the one port (TLS_CERT / TLS_KEY, contents or `_PATH`) and mutual TLS
 * (TLS_CLIENT_CA, TLS_CLIENT_AUTH). Read and checked at startup: a file that cannot be
 * read, a PEM that does not parse, or a key that does not match the certificate stops
 * startup with one line naming the variable.
 */
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "./config-error.js";
import { read, type Env } from "./read.js";
import { VARIABLES as V } from "./schema.js";

/** Where a PEM comes from: given inline, or a file re-read when it changes. */
export type PemSource = { variable: string; contents: string } | { variable: string; path: string };

/** The TLS settings of the listener; undefined: plaintext (HTTP/1.1 and h2c). */
export interface TlsConfig {
  cert: PemSource;
  key: PemSource;
  /** Client certificates must chain to this CA (mutual TLS); undefined: none are asked for. */
  clientCa: PemSource | undefined;
  clientAuth: "required" | "optional";
  reloadIntervalMs: number;
}

/** The PEM a source holds now (a path is read each time). */
export function readPem(source: PemSource): string {
  return "contents" in source ? source.contents : readFileSync(source.path, "utf8");
}

function source(inline: string | undefined, path: string | undefined, name: string): PemSource | undefined {
  if (inline !== undefined && path !== undefined) throw new ConfigError(name, `set ${name} or ${name}_PATH, not both`);
  if (inline !== undefined) return { variable: name, contents: inline.replace(/\\n/g, "\n") };
  if (path !== undefined) return { variable: `${name}_PATH`, path };
  return undefined;
}

/** The TLS settings, or undefined when neither certificate nor key is set. */
export function tlsConfig(env: Env): TlsConfig | undefined {
  const cert = source(read(env, V.TLS_CERT), read(env, V.TLS_CERT_PATH), "TLS_CERT");
  const key = source(read(env, V.TLS_KEY), read(env, V.TLS_KEY_PATH), "TLS_KEY");
  const clientCa = source(read(env, V.TLS_CLIENT_CA), read(env, V.TLS_CLIENT_CA_PATH), "TLS_CLIENT_CA");
  const clientAuth = read(env, V.TLS_CLIENT_AUTH);
  const reloadIntervalMs = read(env, V.TLS_RELOAD_INTERVAL_MS);
  if (!cert && !key) {
    if (clientCa) throw new ConfigError(clientCa.variable, "mutual TLS needs TLS: set TLS_CERT and TLS_KEY too");
    return undefined;
  }
  if (!cert) throw new ConfigError("TLS_CERT", "required with TLS_KEY");
  if (!key) throw new ConfigError("TLS_KEY", "required with TLS_CERT");
  const config: TlsConfig = { cert, key, clientCa, clientAuth, reloadIntervalMs };
  checkTls(config);
  return config;
}

/** Reads every PEM and builds a context from them, or throws ConfigError naming what is wrong. */
function checkTls(config: TlsConfig): void {
  const pem = (s: PemSource) => {
    try {
      return readPem(s);
    } catch (e) {
      throw new ConfigError(s.variable, `cannot read: ${(e as Error).message}`);
    }
  };
  const [cert, key] = [pem(config.cert), pem(config.key)];
  const ca = config.clientCa && pem(config.clientCa);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new ConfigError(config.key.variable, `not a usable key for the certificate in ${config.cert.variable}: ${(e as Error).message}`);
  }
  if (config.clientCa && ca !== undefined) {
    try {
      createSecureContext({ ca });
    } catch (e) {
      throw new ConfigError(config.clientCa.variable, `not a PEM CA bundle: ${(e as Error).message}`);
    }
  }
}
