/**
 * Tessera's signing keys in memory. The database holds every key (private JWK
 * included); each server imports them once, signs with the newest active key,
 * verifies with any usable key (active, or retired but still published), and reloads
 * every minute and, rate-limited, whenever a token names an unknown `kid`.
 */
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { Kysely } from "kysely";
import type { Clock } from "../../deps.js";
import type { Logger } from "../../lib/logger.js";
import type { Database } from "../../store/schema.js";
import { deleteExpiredSigningKeys, ensureActiveSigningKey, listUsableSigningKeys, rotateSigningKey, type NewSigningKey } from "../../store/signing-keys.js";

/** The only algorithm Tessera signs with and accepts for its own tokens. */
export const SIGNING_ALG = "ES256";
/** A `kid` Tessera generates: 22 base64url characters. Anything else is never looked up. */
const KID_RE = /^[A-Za-z0-9_-]{16,64}$/;
/** How often servers reload keys (to pick up a rotation). */
const KEY_RELOAD_INTERVAL_MS = 60_000;
/** Unknown-kid reloads happen at most this often. */
const UNKNOWN_KID_RELOAD_MS = 5_000;
/** Extra time a retired key stays published beyond the access-token lifetime (reload delay + clock skew). */
const RETIRED_KEY_EXTRA_SECONDS = KEY_RELOAD_INTERVAL_MS / 1000 + 120;

interface LoadedKey {
  kid: string;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** A fresh ES256 key pair as stored rows. */
async function generateSigningKey(now: Date): Promise<NewSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const kid = randomBytes(16).toString("base64url");
  const common = { kid, alg: SIGNING_ALG, use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), ...common };
  const publicJwk = { ...(await exportJWK(publicKey)), ...common };
  return { id: kid, alg: SIGNING_ALG, privateJwk, publicJwk, createdAt: now };
}

/** Adds a new active key and retires the others (the `tessera keys rotate` command); deletes keys no longer published. */
export async function rotateKeys(
  db: Kysely<Database>,
  now: Date,
  accessTokenLifetimeSeconds: number,
): Promise<{ kid: string; retired: string[]; publishUntil: Date }> {
  const key = await generateSigningKey(now);
  const publishUntil = new Date(now.getTime() + (accessTokenLifetimeSeconds + RETIRED_KEY_EXTRA_SECONDS) * 1000);
  const retired = await rotateSigningKey(db, key, publishUntil);
  await deleteExpiredSigningKeys(db, now);
  return { kid: key.id, retired, publishUntil };
}

export interface KeyRing {
  /** Creates the first key if none exists, loads keys and starts the periodic reload. */
  start(): Promise<void>;
  stop(): void;
  /** Reloads from the database now. */
  reload(): Promise<void>;
  /** The current signing key. */
  signingKey(): { kid: string; privateKey: CryptoKey };
  /** A verification key by kid; reloads (rate-limited) on an unknown but well-formed kid. */
  verificationKey(kid: string): Promise<CryptoKey | undefined>;
  /** The public JWKS document. */
  jwks(): { keys: JWK[] };
}

/** Builds the key ring over the database. */
export function createKeyRing(db: Kysely<Database>, clock: Clock, logger: Logger): KeyRing {
  let verifying = new Map<string, LoadedKey>();
  let signing: { kid: string; privateKey: CryptoKey } | undefined;
  let jwksDoc: { keys: JWK[] } = { keys: [] };
  let timer: NodeJS.Timeout | undefined;
  let lastUnknownReload = 0;
  let inflight: Promise<void> | undefined;

  async function load(): Promise<void> {
    const rows = await listUsableSigningKeys(db, clock());
    const next = new Map<string, LoadedKey>();
    let nextSigning: typeof signing;
    for (const row of rows) {
      if (row.alg !== SIGNING_ALG) continue;
      const old = verifying.get(row.id);
      const publicJwk = row.public_jwk as JWK;
      const publicKey = old?.publicKey ?? ((await importJWK(publicJwk, SIGNING_ALG)) as CryptoKey);
      next.set(row.id, { kid: row.id, publicKey, publicJwk: publicJwk });
      if (!nextSigning && row.retired_at === null) {
        nextSigning = signing?.kid === row.id ? signing : { kid: row.id, privateKey: (await importJWK(row.private_jwk as JWK, SIGNING_ALG)) as CryptoKey };
      }
    }
    verifying = next;
    if (nextSigning) signing = nextSigning;
    jwksDoc = {
      keys: [...next.values()].map(({ publicJwk }) => ({
        kty: publicJwk.kty,
        crv: publicJwk.crv,
        x: publicJwk.x,
        y: publicJwk.y,
        kid: publicJwk.kid,
        alg: SIGNING_ALG,
        use: "sig",
      })),
    };
  }

  function reload(): Promise<void> {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  return {
    async start() {
      if (await ensureActiveSigningKey(db, () => generateSigningKey(clock()))) logger.info("created the first signing key");
      await reload();
      timer = setInterval(() => {
        reload().catch((e: Error) => logger.warn({ err: { message: e.message } }, "signing key reload failed"));
      }, KEY_RELOAD_INTERVAL_MS);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    reload,
    signingKey() {
      if (!signing) throw new Error("no signing key loaded");
      return signing;
    },
    async verificationKey(kid) {
      if (!KID_RE.test(kid)) return undefined;
      const k = verifying.get(kid);
      if (k) return k.publicKey;
      const now = Date.now();
      if (now - lastUnknownReload < UNKNOWN_KID_RELOAD_MS) return undefined;
      lastUnknownReload = now;
      try {
        await reload();
      } catch (e) {
        logger.warn({ err: { message: (e as Error).message } }, "signing key reload failed");
      }
      return verifying.get(kid)?.publicKey;
    },
    jwks: () => jwksDoc,
  };
}
