/**
 * A token store backed by the browser's `localStorage`.
 */
import type { Tokens, TokenStore } from "./tokens.js";

interface StoredTokens {
  accessToken: string;
  refreshToken?: string;
  accessTokenExpiresAt?: string;
  refreshTokenExpiresAt?: string;
  userId?: string;
}

/** Minimal `Storage` shape, so tests and other runtimes can pass their own. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps tokens in `localStorage` under `key` (default `tessera.tokens`), so a page
 * reload stays signed in. Anything readable by scripts on the page can read them:
 * use it only on pages without third-party scripts, or keep the memory store.
 */
export function createLocalStorageTokenStore(key = "tessera.tokens", storage?: KeyValueStorage): TokenStore {
  const s = (): KeyValueStorage => {
    const st = storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    if (!st) throw new Error("createLocalStorageTokenStore: localStorage is not available here; use createMemoryTokenStore");
    return st;
  };
  return {
    get(): Tokens | undefined {
      const raw = s().getItem(key);
      if (!raw) return undefined;
      try {
        const v = JSON.parse(raw) as StoredTokens;
        if (typeof v.accessToken !== "string") return undefined;
        return {
          accessToken: v.accessToken,
          refreshToken: v.refreshToken,
          accessTokenExpiresAt: v.accessTokenExpiresAt ? new Date(v.accessTokenExpiresAt) : undefined,
          refreshTokenExpiresAt: v.refreshTokenExpiresAt ? new Date(v.refreshTokenExpiresAt) : undefined,
          userId: v.userId,
        };
      } catch {
        return undefined;
      }
    },
    set(t) {
      const v: StoredTokens = {
        accessToken: t.accessToken,
        refreshToken: t.refreshToken,
        accessTokenExpiresAt: t.accessTokenExpiresAt?.toISOString(),
        refreshTokenExpiresAt: t.refreshTokenExpiresAt?.toISOString(),
        userId: t.userId,
      };
      s().setItem(key, JSON.stringify(v));
    },
    clear() {
      s().removeItem(key);
    },
  };
}
