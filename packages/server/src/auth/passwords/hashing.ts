/**
 * Passwords and emails: argon2id hashing (OWASP minimum: 19 MiB, 2 iterations, 1 lane)
 * on the libuv pool through @node-rs/argon2, the length rules, and email normalization.
 */
import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { Code, ConnectError } from "@connectrpc/connect";
import { inSpan } from "../../tracing/spans.js";
import { validNormalizedEmail } from "./email.js";

/** argon2id parameters; the PHC string stores them, so raising them later keeps old hashes verifiable. */
const ARGON2_OPTIONS = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 /* Algorithm.Argon2id */ });

const PASSWORD_MIN_CHARS = 12;
const PASSWORD_MAX_CHARS = 128;
/** Larger passwords are rejected before hashing (no hashing of huge inputs). */
const PASSWORD_MAX_BYTES = 512;

/**
 * At most this many argon2 computations run at once (one core is left to the event
 * loop): a burst of logins queues here instead of starving every other request of CPU.
 */
export const MAX_CONCURRENT_HASHES = Math.max(1, availableParallelism() - 1);

let running = 0;
const waiting: Array<() => void> = [];

/** How many argon2 computations are running now. */
export function hashesInFlight(): number {
  return running;
}

/** Runs `fn` when a hashing slot is free. */
async function withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/**
 * The hashing primitives, behind one object so tests can observe that every login
 * path (unknown email included) runs exactly one verification.
 */
export const passwordHashing = {
  hash(password: string): Promise<string> {
    return inSpan("argon2.hash", {}, () => withHashSlot(() => hash(password, ARGON2_OPTIONS)));
  },
  /** False for a wrong password or an unparseable hash; never throws. */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await inSpan("argon2.verify", {}, () => withHashSlot(() => verify(passwordHash, password)));
    } catch {
      return false;
    }
  },
};

/**
 * True when a stored hash is not argon2id with at least the configured cost (the PHC
 * string carries its parameters): it is upgraded at the next successful login.
 */
export function needsRehash(passwordHash: string): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!m) return true;
  return Number(m[1]) < ARGON2_OPTIONS.memoryCost || Number(m[2]) < ARGON2_OPTIONS.timeCost || Number(m[3]) < ARGON2_OPTIONS.parallelism;
}

/** Rejects passwords over 512 bytes (InvalidArgument) before any other work. */
export function checkPasswordBytes(password: string): void {
  if (Buffer.byteLength(password, "utf8") > PASSWORD_MAX_BYTES) {
    throw new ConnectError(`password must be at most ${PASSWORD_MAX_BYTES} bytes`, Code.InvalidArgument);
  }
}

/** Length rules for a new password: 12 to 128 characters (code points), at most 512 bytes. Used exactly as sent. */
export function checkNewPassword(password: string): void {
  checkPasswordBytes(password);
  const chars = [...password].length;
  if (chars < PASSWORD_MIN_CHARS) throw new ConnectError(`password must be at least ${PASSWORD_MIN_CHARS} characters`, Code.InvalidArgument);
  if (chars > PASSWORD_MAX_CHARS) throw new ConnectError(`password must be at most ${PASSWORD_MAX_CHARS} characters`, Code.InvalidArgument);
}

/** An email as displayed (trimmed) and as compared (trimmed, NFKC, lower-cased). */
export interface NormalizedEmail {
  email: string;
  normalized: string;
}

/** Trims and normalizes an email (the shared rules of email.ts); undefined when it is not a valid address. */
export function normalizeEmailInput(raw: string): NormalizedEmail | undefined {
  const normalized = validNormalizedEmail(raw);
  return normalized === undefined ? undefined : { email: raw.trim(), normalized };
}
