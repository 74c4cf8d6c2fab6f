/**
 * Where log lines go: a synchronous stream (stdout) written in as few calls as the load
 * allows, without losing or splitting a line.
 *
 * - The first line of an event-loop turn is written at once, as before: an idle server,
 *   or one serving a request at a time (a terminal, the README's shell blocks sharing its
 *   stdout), writes each line before the response it describes.
 * - Further lines of the same turn (a busy server: many requests per turn) are kept and
 *   written together when the turn ends (`setImmediate`), or when `flush()` is called
 *   (the per-RPC line of a server with no other request in flight: server/observe.ts),
 *   in chunks of at most
 *   `CHUNK_BYTES` cut at line ends: under PIPE_BUF, so a write to a shared pipe is never
 *   interleaved with another process's output in the middle of a line.
 * - What is still kept is written synchronously when the process exits (`process.exit`,
 *   the end of a graceful stop on SIGTERM, an uncaught exception): nothing is lost except
 *   under SIGKILL, and then at most the current turn's lines.
 *
 * A write per turn instead of a write per line is what makes info-level logging cheap:
 * the synchronous write per line was most of its cost (`npm run bench`, scenario 1i).
 */

import { writeSync } from "node:fs";

/** Largest write: Linux's PIPE_BUF, the size up to which a pipe write is atomic. */
export const CHUNK_BYTES = 4096;

/** Most bytes kept within one turn before they are written anyway. */
const MAX_KEPT_BYTES = 16 * CHUNK_BYTES;

/** A synchronous sink with `write(chunk)`: a file descriptor (fdSink), or a test's collector. */
export interface LineSink {
  write(chunk: string): unknown;
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
  return {
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
 * A writer of `\n`-terminated lines to `sink`, batched by event-loop turn as above; the
 * process's exit handler flushes what it keeps.
 */
export function createLineWriter(sink: LineSink): LineWriter {
  let kept: string[] = [];
  let keptBytes = 0;
  let turnStarted = false;

  function flush(done?: () => void): void {
    writeKept();
    done?.();
  }

  function writeKept(): void {
    if (kept.length === 0) return;
    const lines = kept;
    kept = [];
    keptBytes = 0;
    pending.delete(writer);
    let chunk = "";
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + bytes > CHUNK_BYTES) {
        sink.write(chunk);
        chunk = "";
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += bytes;
    }
    if (chunk.length > 0) sink.write(chunk);
  }

  function endOfTurn(): void {
    turnStarted = false;
    flush();
  }

  const writer: LineWriter = {
    write(line: string): void {
      if (!turnStarted) {
        // The first line of this turn: out now, before whatever the turn does next.
        turnStarted = true;
        setImmediate(endOfTurn);
        sink.write(line);
        return;
      }
      if (kept.length === 0) pending.add(writer);
      kept.push(line);
      keptBytes += line.length;
      // A turn that logs a lot (a burst) does not hold more than a few chunks.
      if (keptBytes >= MAX_KEPT_BYTES) writeKept();
    },
    flush,
  };
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", flushAllAtExit);
  }
  return writer;
}
