/**
 * The CLI's client-side settings. A deliberate exception to "only config.ts reads
 * process.env": config.ts is the server's configuration; the `tessera` client
 * commands (login, apikeys, ...) read their few variables here, in one place.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { ClientTls } from "@tessera/sdk/node";
import { UsageError } from "./errors.js";

/** Where the CLI talks to and keeps its credentials. */
export interface ClientConfig {
  /** TESSERA_API_URL, without a trailing slash; default http://localhost:8080. */
  apiUrl: string;
  /** TESSERA_API_KEY: authenticate with an API key instead of stored tokens. */
  apiKey?: string;
  /** TESSERA_CONFIG_DIR, else $XDG_CONFIG_HOME/tessera, else ~/.tessera. */
  configDir: string;
  /** LOGIN_HOST / LOGIN_PORT of the loopback callback server of `tessera login`. */
  loginHost: string;
  loginPort: number;
  /** TESSERA_PASSWORD for non-interactive `tessera login --password`. */
  password?: string;
  /** TESSERA_MFA_CODE: the current 6-digit code for a non-interactive login of a user with two-factor authentication. */
  mfaCode?: string;
  /**
   * Why no browser can be opened here, if none can: TESSERA_NO_BROWSER set, an SSH
   * session (SSH_CONNECTION, SSH_TTY), or on Linux and other Unixes no DISPLAY or
   * WAYLAND_DISPLAY, or no xdg-open on PATH. `tessera login` then uses the device login.
   */
  noBrowserReason?: string;
  /** TESSERA_CA_CERT (a CA to trust), TESSERA_CLIENT_CERT and TESSERA_CLIENT_KEY (mutual TLS): PEM files, read once. */
  tls?: ClientTls;
}

/** Why a browser cannot be opened on this machine (see ClientConfig.noBrowserReason). */
function noBrowserReason(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | undefined {
  const noBrowser = (env.TESSERA_NO_BROWSER ?? "").trim().toLowerCase();
  if (noBrowser !== "" && noBrowser !== "0" && noBrowser !== "false") return "TESSERA_NO_BROWSER is set";
  if (env.SSH_CONNECTION || env.SSH_TTY) return "this is an SSH session";
  if (platform === "darwin" || platform === "win32") return undefined;
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return "no DISPLAY or WAYLAND_DISPLAY";
  const onPath = (env.PATH ?? "").split(path.delimiter).some((dir) => dir !== "" && existsSync(path.join(dir, "xdg-open")));
  return onPath ? undefined : "no xdg-open on PATH";
}

/** The PEM file a variable names, or undefined when unset; an unreadable file is a usage error. */
function pemFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[name]?.trim();
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${name}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The TLS files of the environment; a certificate without its key (or the reverse) is a usage error. */
function clientTls(env: NodeJS.ProcessEnv): ClientTls | undefined {
  const [ca, cert, key] = [pemFile(env, "TESSERA_CA_CERT"), pemFile(env, "TESSERA_CLIENT_CERT"), pemFile(env, "TESSERA_CLIENT_KEY")];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("TESSERA_CLIENT_CERT and TESSERA_CLIENT_KEY go together: set both or neither");
  return ca || cert ? { ca, cert, key } : undefined;
}

/** Reads the client settings; a bad value is a usage error (exit 2). */
export function readClientConfig(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): ClientConfig {
  const rawUrl = (env.TESSERA_API_URL ?? "").trim() || "http://localhost:8080";
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UsageError(`TESSERA_API_URL is not a URL (${JSON.stringify(rawUrl.slice(0, 100))}): set it like http://localhost:8080`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError("TESSERA_API_URL must start with http:// or https://");
  }
  const configDir = env.TESSERA_CONFIG_DIR?.trim()
    ? path.resolve(env.TESSERA_CONFIG_DIR)
    : env.XDG_CONFIG_HOME?.trim()
      ? path.join(path.resolve(env.XDG_CONFIG_HOME), "tessera")
      : path.join(homedir(), ".tessera");
  const portText = (env.LOGIN_PORT ?? "").trim() || "4242";
  const loginPort = Number(portText);
  if (!/^\d+$/.test(portText) || loginPort > 65535)
    throw new UsageError(`LOGIN_PORT must be a port number 0-65535, not ${JSON.stringify(portText.slice(0, 20))}`);
  const loginHost = (env.LOGIN_HOST ?? "").trim() || "127.0.0.1";
  return {
    apiUrl: url.toString().replace(/\/+$/, ""),
    apiKey: env.TESSERA_API_KEY?.trim() || undefined,
    configDir,
    loginHost,
    loginPort,
    password: env.TESSERA_PASSWORD || undefined,
    mfaCode: env.TESSERA_MFA_CODE?.trim() || undefined,
    noBrowserReason: noBrowserReason(env, platform),
    tls: clientTls(env),
  };
}
