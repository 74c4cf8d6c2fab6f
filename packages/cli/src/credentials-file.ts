/**
 * The CLI's credentials file: `<config dir>/credentials.json`, mode 0600 in a 0700
 * directory, one entry per server URL (tokens and the current account). Written
 * atomically (temporary file + rename), so a crash never leaves half a file.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Tokens, TokenStore } from "@tessera/sdk";
import { CliError } from "./errors.js";

/** What is kept for one server. */
export interface ServerEntry {
  accessToken?: string;
  refreshToken?: string;
  accessTokenExpiresAt?: string;
  refreshTokenExpiresAt?: string;
  userId?: string;
  /** The account `tessera accounts use` picked. */
  accountId?: string;
}

interface FileShape {
  version: 1;
  servers: Record<string, ServerEntry>;
}

/** The credentials file of one config directory. */
export class CredentialsFile {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = path.join(dir, "credentials.json");
  }

  private read(): FileShape {
    let raw: string;
    try {
      raw = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, servers: {} };
      throw new CliError(`cannot read ${this.path} (${(e as Error).message}): fix its permissions or delete it and run \`tessera login\``);
    }
    try {
      const v = JSON.parse(raw) as FileShape;
      if (typeof v !== "object" || v === null || typeof v.servers !== "object" || v.servers === null) throw new Error("unexpected shape");
      return { version: 1, servers: v.servers };
    } catch {
      throw new CliError(`${this.path} is damaged: delete it and run \`tessera login\``);
    }
  }

  private write(v: FileShape): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(v, null, 2)}\n`, { mode: 0o600 });
      chmodSync(tmp, 0o600); // in case the umask or an old file widened it
      renameSync(tmp, this.path);
    } catch (e) {
      throw new CliError(`cannot write ${this.path} (${(e as Error).message}): set TESSERA_CONFIG_DIR to a writable directory`);
    }
  }

  /** The entry of a server (empty when none). */
  get(apiUrl: string): ServerEntry {
    return this.read().servers[apiUrl] ?? {};
  }

  /** Replaces a server's entry (removes it when empty). */
  set(apiUrl: string, entry: ServerEntry): void {
    const v = this.read();
    const clean = Object.fromEntries(Object.entries(entry).filter(([, x]) => x !== undefined && x !== "")) as ServerEntry;
    if (Object.keys(clean).length === 0) delete v.servers[apiUrl];
    else v.servers[apiUrl] = clean;
    if (Object.keys(v.servers).length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    this.write(v);
  }

  /** Changes some fields of a server's entry. */
  update(apiUrl: string, patch: Partial<ServerEntry>): void {
    this.set(apiUrl, { ...this.get(apiUrl), ...patch });
  }

  /** A TokenStore over one server's entry, for the SDK (it writes refreshed tokens back). */
  tokenStore(apiUrl: string): TokenStore {
    return {
      get: (): Tokens | undefined => {
        const e = this.get(apiUrl);
        if (!e.accessToken && !e.refreshToken) return undefined;
        return {
          accessToken: e.accessToken ?? "",
          refreshToken: e.refreshToken,
          accessTokenExpiresAt: e.accessTokenExpiresAt ? new Date(e.accessTokenExpiresAt) : undefined,
          refreshTokenExpiresAt: e.refreshTokenExpiresAt ? new Date(e.refreshTokenExpiresAt) : undefined,
          userId: e.userId,
        };
      },
      set: (t: Tokens) => {
        const prev = this.get(apiUrl);
        // A different user signed in: the current account was the other user's.
        const accountId = prev.userId && t.userId && prev.userId !== t.userId ? undefined : prev.accountId;
        this.set(apiUrl, {
          accessToken: t.accessToken,
          refreshToken: t.refreshToken,
          accessTokenExpiresAt: t.accessTokenExpiresAt?.toISOString(),
          refreshTokenExpiresAt: t.refreshTokenExpiresAt?.toISOString(),
          userId: t.userId ?? prev.userId,
          accountId,
        });
      },
      clear: () => {
        const prev = this.get(apiUrl);
        this.set(apiUrl, { accountId: prev.userId ? undefined : prev.accountId });
      },
    };
  }
}
