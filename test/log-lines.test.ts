/**
 * Log lines of a busy process are written together, at most LINGER_MS late
 * (lib/line-writer.ts, issue 20: cheap per-request logs). None may be lost or split: a process that logs and then exits,
 * throws, or is stopped by SIGTERM gets every line out, each whole and valid JSON, in
 * order; and lines written together never interleave mid-line with another process
 * writing to the same pipe (the README's shell blocks share the server's stdout).
 */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CHUNK_BYTES, createLineWriter, fdSink, FILE_CHUNK_BYTES, LINGER_MS } from "../packages/server/src/lib/line-writer.js";
import { context, propagation, trace } from "@opentelemetry/api";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createLogger, rpcLogger } from "../packages/server/src/lib/logger.js";

const FIXTURE = path.join(import.meta.dirname, "fixtures", "log-burst.ts");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the fixture in `mode`; `onStderr` may signal it once it is logging. */
function run(mode: string, n: number, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, mode, String(n)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    if (onStart && stderr.includes("logging\n")) {
      onStart(child);
      onStart = undefined;
    }
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** The stdout's lines, each parsed (a line that is not whole JSON fails the test). */
function records(stdout: string): Array<Record<string, unknown>> {
  expect(stdout.endsWith("\n"), "stdout ends with a whole line").toBe(true);
  return stdout
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function expectSequence(recs: Array<Record<string, unknown>>, n: number): void {
  expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
  for (const r of recs) expect(r).toMatchObject({ level: 30, service: "tessera", msg: "rpc", code: "ok" });
}

describe("log lines at exit", () => {
  it("writes every line logged before process.exit, in order, each valid JSON", async () => {
    const r = await run("exit", 5000);
    expect(r.code, r.stderr).toBe(0);
    expectSequence(records(r.stdout), 5000);
  }, 60_000);

  it("writes every line logged before an uncaught exception", async () => {
    const r = await run("throw", 3000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("fixture: uncaught after logging");
    expectSequence(records(r.stdout), 3000);
  }, 60_000);

  it("writes every line logged before SIGTERM and the shutdown line after them", async () => {
    const r = await run("sigterm", 0, (child) => child.kill("SIGTERM"));
    expect(r.code, r.stderr).toBe(0);
    const recs = records(r.stdout);
    const last = recs.at(-1)!;
    expect(last.msg).toBe("shutting down");
    const n = Number(last.last) + 1;
    expect(n).toBeGreaterThanOrEqual(50);
    expectSequence(recs.slice(0, -1), n);
  }, 60_000);

  it("never splits a line when another process writes to the same pipe", async () => {
    const n = 20_000;
    const r = await run("shared", n);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.slice(0, -1).split("\n");
    const others = lines.filter((l) => l.startsWith("other "));
    expect(others).toEqual(Array.from({ length: n }, (_, i) => `other ${i}`));
    const logs = lines.filter((l) => !l.startsWith("other ")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expectSequence(logs, n);
  }, 60_000);
});

describe("the line writer", () => {
  function sink(): { writes: string[]; stream: Writable } {
    const writes: string[] = [];
    const stream = new Writable({
      write(c, _e, cb) {
        writes.push(String(c));
        cb();
      },
    });
    return { writes, stream };
  }

  /** A writer on a fake clock: Date and setTimeout move only when the test says. */
  function fakeClockWriter(stream: Writable) {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: 1_000_000 });
    return createLineWriter(stream, () => Date.now());
  }
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes a line at once when idle, keeps the lines that follow within LINGER_MS and writes them together LINGER_MS after, in chunks under PIPE_BUF", () => {
    const { writes, stream } = sink();
    const w = fakeClockWriter(stream);
    const line = (i: number) => `${JSON.stringify({ i, pad: "x".repeat(180) })}\n`;
    w.write(line(0));
    expect(writes).toEqual([line(0)]);
    vi.advanceTimersByTime(1);
    for (let i = 1; i < 100; i++) w.write(line(i));
    expect(writes).toEqual([line(0)]);
    vi.advanceTimersByTime(LINGER_MS - 2);
    expect(writes, "still within LINGER_MS of the last write").toEqual([line(0)]);
    vi.advanceTimersByTime(1);
    expect(writes.join("")).toBe(Array.from({ length: 100 }, (_, i) => line(i)).join(""));
    expect(writes.length).toBeLessThan(10);
    for (const chunk of writes) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(CHUNK_BYTES);
      expect(chunk.endsWith("\n")).toBe(true);
    }
    // Idle again (LINGER_MS since the last write): the next line goes out at once.
    vi.advanceTimersByTime(LINGER_MS);
    w.write(line(100));
    expect(writes.at(-1)).toBe(line(100));
  });

  it("under steady load writes no line later than LINGER_MS after it was logged, and far fewer times than lines", () => {
    const { writes, stream } = sink();
    const w = fakeClockWriter(stream);
    const loggedAt = new Map<string, number>();
    let lateness = 0;
    let seen = 0;
    const check = () => {
      for (const chunk of writes.slice(seen)) {
        for (const l of chunk.split("\n").filter(Boolean)) lateness = Math.max(lateness, Date.now() - loggedAt.get(l)!);
      }
      seen = writes.length;
    };
    // Three lines a millisecond for a second.
    for (let ms = 0; ms < 1000; ms++) {
      for (let k = 0; k < 3; k++) {
        const l = `line ${ms}.${k}`;
        loggedAt.set(l, Date.now());
        w.write(`${l}\n`);
      }
      vi.advanceTimersByTime(1);
      check();
    }
    vi.advanceTimersByTime(LINGER_MS);
    check();
    expect(writes.join("").split("\n").filter(Boolean)).toHaveLength(3000);
    expect(lateness).toBeLessThanOrEqual(LINGER_MS);
    expect(writes.length).toBeLessThanOrEqual(1000 / LINGER_MS + 1);
  });

  it("writes to a regular file in chunks of up to FILE_CHUNK_BYTES, to anything else in chunks of up to PIPE_BUF", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-lines-"));
    const fd = openSync(path.join(dir, "out.log"), "w");
    try {
      expect(fdSink(fd).chunkBytes).toBe(FILE_CHUNK_BYTES);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
    const dev = openSync("/dev/null", "w"); // a character device, as a terminal is
    try {
      expect(fdSink(dev).chunkBytes).toBe(CHUNK_BYTES);
    } finally {
      closeSync(dev);
    }
    const writes: string[] = [];
    const w = createLineWriter({ write: (c: string) => writes.push(c), chunkBytes: FILE_CHUNK_BYTES });
    const line = `${"y".repeat(199)}\n`;
    for (let i = 0; i < 600; i++) w.write(line);
    w.flush();
    expect(writes.join("")).toBe(line.repeat(600));
    expect(writes.length).toBeLessThanOrEqual(4);
    for (const chunk of writes) expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(FILE_CHUNK_BYTES);
  });

  it("writes what it keeps at once on logger.flush()", () => {
    const { writes, stream } = sink();
    for (const json of [true, false]) {
      writes.length = 0;
      const logger = createLogger({ json, level: "info", destination: stream });
      logger.warn({ reason: "reuse" }, "refresh token reused");
      logger.info({ procedure: "tessera.v1.AuthService/RefreshToken", code: "unauthenticated" }, "rpc");
      expect(writes.join(""), "only the first line (the writer was idle) is out").not.toContain("RefreshToken");
      logger.flush();
      // At once: both lines, whole.
      expect(writes.join("").split("\n").filter(Boolean)).toHaveLength(2);
      expect(writes.join("")).toContain("RefreshToken");
    }
  });

  it("counts bytes, not characters, when cutting chunks", () => {
    const { writes, stream } = sink();
    const w = createLineWriter(stream);
    const line = `${"é".repeat(1500)}\n`; // 3,001 bytes
    for (let i = 0; i < 4; i++) w.write(line);
    w.flush();
    for (const chunk of writes) expect(Buffer.byteLength(chunk) <= CHUNK_BYTES || chunk === line).toBe(true);
    expect(writes.join("")).toBe(line.repeat(4));
  });

  it('writes the per-RPC line exactly as pino writes logger.info(fields, "rpc"), inside a span too, and only at info', () => {
    const { writes, stream } = sink();
    const logger = createLogger({ json: true, level: "info", destination: stream });
    const rpc = rpcLogger(logger);
    const cases = [
      { procedure: "tessera.v1.AuthService/GetAuthConfig", code: "ok", duration_ms: 0.42, client_ip: "127.0.0.1" },
      { procedure: "tessera.v1.AuthService/Login", code: "unauthenticated", duration_ms: 12, client_ip: undefined },
      // A client IP from X-Forwarded-For is the client's text: quotes, backslashes, control characters, unicode.
      { procedure: "x/y", code: "ok", duration_ms: 1.5, client_ip: '1.2.3.4", "level":60 \\ \u0000\n é \ud800' },
      // A sampled line (LOG_RPC_SAMPLE), with and without a client IP.
      { procedure: "tessera.v1.AuthService/CheckToken", code: "ok", duration_ms: 0.3, client_ip: "10.0.0.1", sample_ratio: 0.1 },
      { procedure: "tessera.v1.AuthService/CheckToken", code: "ok", duration_ms: 0.3, client_ip: undefined, sample_ratio: 0.25 },
    ];
    const both = () => {
      for (const fields of cases) {
        logger.info(fields, "rpc");
        rpc(fields);
      }
      logger.flush();
    };
    both();
    const provider = new NodeTracerProvider();
    provider.register(); // the global context manager: a span can be active
    try {
      provider.getTracer("test").startActiveSpan("rpc", (span) => {
        expect(trace.getActiveSpan(), "a span is active").toBeDefined();
        both();
        span.end();
      });
    } finally {
      trace.disable();
      context.disable();
      propagation.disable();
    }
    const lines = writes.join("").split("\n").filter(Boolean);
    expect(lines).toHaveLength(cases.length * 4);
    for (let i = 0; i < lines.length; i += 2) {
      const [viaPino, fast] = [lines[i]!, lines[i + 1]!].map((l) => l.replace(/"time":\d+/, '"time":0'));
      expect(fast).toBe(viaPino);
      expect(JSON.parse(fast!)).toMatchObject({ level: 30, msg: "rpc" });
    }
    expect(lines.slice(cases.length * 2).every((l) => (JSON.parse(l) as { trace_id?: string }).trace_id?.length === 32)).toBe(true);
    // Above info, nothing.
    writes.length = 0;
    const quiet = createLogger({ json: true, level: "warn", destination: stream });
    rpcLogger(quiet)(cases[0]!);
    quiet.flush();
    expect(writes).toEqual([]);
  });
});
