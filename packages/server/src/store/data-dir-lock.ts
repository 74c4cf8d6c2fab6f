/**
 * An exclusive lock on an embedded (PGlite) data directory: PGlite is single-process,
 * and a second process opening the same files loses data. The lock is a file
 * `tessera.lock` inside the directory naming its owner (pid, process start time, host,
 * command). It appears atomically with its whole content (written aside, then
 * hard-linked into place, which fails if a lock exists), so of two processes starting
 * together exactly one gets it.
 *
 * A lock is stale, and is taken over, when its owner is gone: on the same host, its pid
 * is dead, or now belongs to another process (a different start time), or it was copied
 * along with the directory (it names another directory's inode); written on
 * another host (a container sharing a volume), its owner stopped refreshing its mtime
 * for `FOREIGN_STALE_MS`. A stale lock is removed under a takeover file created
 * exclusively (`tessera.lock.takeover`): one process at a time reads it again and removes
 * it only if it is still the stale lock that was judged. (Renaming it aside and putting
 * back a lock moved by mistake left a moment without a lock file, in which a third
 * process took the lock while the one whose lock was moved kept believing it held it.)
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";

/** The lock file's name inside the data directory. */
export const LOCK_FILE_NAME = "tessera.lock";
/** How often a holder refreshes its lock's mtime (read by processes on other hosts). */
const HEARTBEAT_MS = 10_000;
/** A lock written on another host is stale once its mtime is this old. */
export const FOREIGN_STALE_MS = 30_000;
/** An unreadable lock (a holder died while writing it, without hard links) is stale once this old. */
const UNREADABLE_STALE_MS = 10_000;

/** Who holds a data directory, as its lock file says. */
export interface LockOwner {
  pid: number;
  /** The owner process's start time as the OS reports it (absent where unknown). */
  start?: string;
  host: string;
  /** The locked directory's `device:inode`: a lock copied along with its directory does not hold the copy. */
  dir?: string;
  /** What the owner runs, e.g. `tessera serve`. */
  command: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** Thrown when another live process (or this one) holds the data directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    /** The holder; undefined when its lock file is being written right now. */
    readonly owner: LockOwner | undefined,
    /** True when this very process holds it (opened twice). */
    readonly self: boolean,
  ) {
    super(
      self
        ? `the embedded database in ${dataDir} is already open in this process`
        : `the embedded database in ${dataDir} is in use by ${owner ? `\`${owner.command}\` (pid ${owner.pid}${owner.host === hostname() ? "" : ` on ${owner.host}`}, since ${owner.since})` : "another process"}`,
    );
    this.name = "DataDirLockedError";
  }
}

/** A held lock. */
export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still this process's; idempotent. */
  release(): void;
}

/** Lock files this process holds, with their exact content. */
const held = new Map<string, string>();
let exitHookInstalled = false;

/** The OS's start time of a process (pid reuse detection), or undefined where unknown. */
export function processStartTime(pid: number): string | undefined {
  try {
    if (process.platform === "linux") {
      // Field 22 (starttime, clock ticks after boot), counted after the `(comm)` field, which may hold spaces.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      return ticks ? `${boot}:${ticks}` : undefined;
    }
    if (process.platform === "win32") return undefined;
    const out = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 2000 }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, owned by another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isSafeInteger(o.pid) || o.pid! <= 0 || typeof o.host !== "string" || typeof o.command !== "string" || typeof o.since !== "string")
      return undefined;
    const optional = (v: unknown) => (typeof v === "string" ? v : undefined);
    return { pid: o.pid!, start: optional(o.start), host: o.host, dir: optional(o.dir), command: o.command, since: o.since };
  } catch {
    return undefined;
  }
}

/** Whether the lock with this content and mtime still has a live owner. */
function isLive(file: string, text: string, mtimeMs: number, dirId: string): boolean {
  const owner = parseOwner(text);
  if (!owner) return Date.now() - mtimeMs < UNREADABLE_STALE_MS;
  if (owner.host !== hostname()) return Date.now() - mtimeMs < FOREIGN_STALE_MS;
  if (owner.dir !== undefined && owner.dir !== dirId) return false;
  if (owner.pid === process.pid) return held.get(file) === text;
  if (!pidAlive(owner.pid)) return false;
  const start = owner.start === undefined ? undefined : processStartTime(owner.pid);
  return start === undefined || start === owner.start;
}

function readLock(file: string): { text: string; mtimeMs: number } | undefined {
  try {
    return { mtimeMs: statSync(file).mtimeMs, text: readFileSync(file, "utf8") };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function writeNew(file: string, text: string): void {
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates the lock file with its full content, or returns false if one exists. */
function tryCreate(file: string, text: string, token: string): boolean {
  const tmp = `${file}.${process.pid}.${token}.tmp`;
  writeNew(tmp, text);
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw e;
  } finally {
    unlinkSync(tmp);
  }
  // No hard links on this file system: exclusive create, then write (a reader may briefly see it empty).
  try {
    writeNew(file, text);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/** A takeover takes microseconds; a takeover file older than this is a leftover of a killed process. */
const TAKEOVER_STALE_MS = 10_000;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Removes the stale lock whose content is `staleText`, under the takeover file (created
 * exclusively): only one process at a time removes a stale lock, and only after reading
 * it again under the takeover, so a fresh lock taken meanwhile by another process (its
 * content, with its random token, never equals a stale one) is never removed or moved.
 * Returns false when another process is taking over now (or left a takeover file behind,
 * removed once TAKEOVER_STALE_MS old): the caller waits and tries again.
 */
function removeStale(file: string, staleText: string): boolean {
  const takeover = `${file}.takeover`;
  try {
    writeNew(takeover, `${process.pid}\n`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    const left = readLock(takeover);
    if (left && Date.now() - left.mtimeMs > TAKEOVER_STALE_MS) unlinkQuietly(takeover);
    return false;
  }
  try {
    if (readLock(file)?.text === staleText) unlinkQuietly(file);
  } finally {
    // Gone only if this process took over for longer than TAKEOVER_STALE_MS and another removed it.
    unlinkQuietly(takeover);
  }
  return true;
}

/** Unlinks `file`; already gone is fine (two takeovers can only meet after a leftover's removal). */
function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

function releaseAllOnExit(): void {
  for (const [file, text] of held) {
    try {
      if (readFileSync(file, "utf8") === text) unlinkSync(file);
    } catch {
      /* gone already */
    }
  }
  held.clear();
}

/**
 * Takes the exclusive lock on `dataDir` (which must exist) for `command`, or throws
 * DataDirLockedError naming the live holder. A stale lock is taken over.
 */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  const token = randomBytes(8).toString("hex");
  const st = statSync(dir);
  const dirId = `${st.dev}:${st.ino}`;
  const owner: LockOwner = { pid: process.pid, start: processStartTime(process.pid), host: hostname(), dir: dirId, command, since: new Date().toISOString() };
  const text = `${JSON.stringify({ ...owner, token })}\n`;
  // Waiting for another process's takeover does not count as an attempt; the deadline
  // bounds it (a takeover file left by a killed process is removed once old).
  const deadline = Date.now() + TAKEOVER_STALE_MS + 1_000;
  for (let attempt = 0; attempt < 10; attempt++) {
    if (tryCreate(file, text, token)) {
      held.set(file, text);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on("exit", releaseAllOnExit);
      }
      return acquired(file, text);
    }
    const current = readLock(file);
    if (!current) continue; // released meanwhile: try again
    if (isLive(file, current.text, current.mtimeMs, dirId)) {
      throw new DataDirLockedError(dir, file, parseOwner(current.text), held.get(file) === current.text);
    }
    if (!removeStale(file, current.text) && Date.now() < deadline) {
      Atomics.wait(pause, 0, 0, 2);
      attempt--;
    }
  }
  throw new Error(`could not lock ${file}: it kept changing; is another process starting and stopping on ${dir}?`);
}

function acquired(file: string, text: string): DataDirLock {
  // Processes on other hosts judge the lock by its mtime.
  const heartbeat = setInterval(() => {
    try {
      if (held.get(file) === text) utimesSync(file, new Date(), new Date());
    } catch {
      /* the directory went away; nothing to keep */
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    file,
    release() {
      clearInterval(heartbeat);
      if (held.get(file) !== text) return;
      held.delete(file);
      try {
        if (readFileSync(file, "utf8") === text) unlinkSync(file);
      } catch {
        /* removed already (the directory was deleted) */
      }
    },
  };
}
