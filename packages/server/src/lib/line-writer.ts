/**
 * Where log lines go: a synchronous stream (stdout) written in as few calls as the load
 * allows, without losing or splitting a line, and never more than `LINGER_MS` late.
 *
 * - A line logged while the writer is idle (nothing written for `LINGER_MS`) is written at
 *   once: a server serving now and then (a terminal, a test reading its output) writes each
 *   line before the response it describes.
 * - Lines logged within `LINGER_MS` of the last write (a busy server) are kept and written
 *   together `LINGER_MS` after that write, or at once when `flush()` is called, or when a
 *   burst keeps more than a few chunks. Writes go in chunks cut at line ends, of at most
 *   `CHUNK_BYTES` to a pipe, socket or terminal (PIPE_BUF: a write to a shared pipe is
 *   never interleaved with another process's output in the middle of a line) and of at
 *   most `FILE_CHUNK_BYTES` to a regular file.
 * - What is still kept is written synchronously when the process exits (`process.exit`,
 *   the end of a graceful stop on SIGTERM, an uncaught exception): nothing is lost except
 *   under SIGKILL, and then at most the last `LINGER_MS` of lines.
 *
 * A write per `LINGER_MS` instead of a write per line is what makes info-level logging
 * cheap: the synchronous write per line was most of its cost (`npm run bench`, scenario 1i).
 * Whoever reads the lines of a busy process (a collector, a test) sees each of them at
 * most `LINGER_MS` after it was logged.
 */

import { fstatSync, writeSync } from "node:fs";

/** The longest a line waits before it is written, ms: the bound a reader of a busy process's lines polls for. */
export const LINGER_MS = 10;

/** Largest write to a pipe, socket or terminal: Linux's PIPE_BUF, the size up to which a pipe write is atomic. */
export const CHUNK_BYTES = 4096;

/** Largest write to a regular file (a write there is not interleaved with another writer's at any size). */
export const FILE_CHUNK_BYTES = 64 * 1024;

/** Most bytes kept before they are written anyway (a burst): this many chunks, and at least 64 KiB. */
const MAX_KEPT_CHUNKS = 4;
const MIN_MAX_KEPT_BYTES = 16 * CHUNK_BYTES;

/** A synchronous sink with `write(chunk)`: a file descriptor (fdSink), or a test's collector. */
export interface LineSink {
  write(chunk: string): unknown;
  /** Largest write the sink takes at once (default CHUNK_BYTES). */
  chunkBytes?: number;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes to file descriptor `fd` (1: stdout) with `write(2)` itself, returning only once
 * all of `chunk` is written: process.stdout on a pipe queues what the pipe cannot take at
 * once and drops it at `process.exit`. A pipe left non-blocking by another process that
 * shares it answers EAGAIN when full: wait a millisecond and retry, as a blocking write
 * would. Other errors (EPIPE: nobody reads) drop the chunk: logging never stops the server.
 */
export function fdSink(fd: number): LineSink {
  let chunkBytes = CHUNK_BYTES;
  try {
    if (fstatSync(fd).isFile()) chunkBytes = FILE_CHUNK_BYTES;
  } catch {
    // Not a descriptor fstat can read: the safe size.
  }
  return {
    chunkBytes,
    write(chunk: string): void {
      const buf = Buffer.from(chunk);
      let off = 0;
      while (off < buf.length) {
        try {
          off += writeSync(fd, buf, off);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return;
          Atomics.wait(pause, 0, 0, 1);
        }
      }
    },
  };
}

/** Lines in, batched writes out; `flush()` writes what is kept, synchronously (then calls `done`: pino's `logger.flush`). */
export interface LineWriter {
  write(line: string): void;
  flush(done?: () => void): void;
}

/** The writers of this process that keep lines now: flushed at exit. */
const pending = new Set<LineWriter>();
let exitHookInstalled = false;

function flushAllAtExit(): void {
  for (const w of pending) w.flush();
}

/**
 * A writer of `\n`-terminated lines to `sink`, batched as above; the process's exit
 * handler flushes what it keeps. `now` is the clock in ms (tests pass their own).
 */
export function createLineWriter(sink: LineSink, now: () => number = performance.now.bind(performance)): LineWriter {
  const chunkMax = sink.chunkBytes ?? CHUNK_BYTES;
  const maxKept = Math.max(MIN_MAX_KEPT_BYTES, MAX_KEPT_CHUNKS * chunkMax);
  let kept: string[] = [];
  let keptBytes = 0;
  let lastWrite = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;

  function flush(done?: () => void): void {
    writeKept();
    done?.();
  }

  function writeKept(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (kept.length === 0) return;
    const lines = kept;
    kept = [];
    keptBytes = 0;
    pending.delete(writer);
    lastWrite = now();
    let chunk = "";
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + bytes > chunkMax) {
        sink.write(chunk);
        chunk = "";
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunk.length > 0) sink.write(chunk);
  }

  const writer: LineWriter = {
    write(line: string): void {
      if (timer === undefined) {
        const t = now();
        if (t - lastWrite >= LINGER_MS) {
          // Idle: out now, before whatever this turn does next (its response).
          lastWrite = t;
          sink.write(line);
          return;
        }
        pending.add(writer);
        // Unreferenced: kept lines never hold the process open (the exit handler writes them).
        timer = setTimeout(writeKept, lastWrite + LINGER_MS - t).unref();
      }
      kept.push(line);
      keptBytes += line.length;
      if (keptBytes >= maxKept) writeKept();
    },
    flush,
  };
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", flushAllAtExit);
  }
  return writer;
}
