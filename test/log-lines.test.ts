/**
 * Log lines are written a turn of the event loop at a time (lib/line-writer.ts, issue 20:
 * cheap per-request logs). None may be lost or split: a process that logs and then exits,
 * throws, or is stopped by SIGTERM gets every line out, each whole and valid JSON, in
 * order; and lines written together never interleave mid-line with another process
 * writing to the same pipe (the README's shell blocks share the server's stdout).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CHUNK_BYTES, createLineWriter } from "../packages/server/src/lib/line-writer.js";
import { createLogger } from "../packages/server/src/lib/logger.js";

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
  const next = () => new Promise((r) => setImmediate(r));

  it("writes the first line of a turn at once and the rest together when the turn ends, in chunks under PIPE_BUF", async () => {
    const { writes, stream } = sink();
    const w = createLineWriter(stream);
    const line = (i: number) => `${JSON.stringify({ i, pad: "x".repeat(180) })}\n`;
    for (let i = 0; i < 100; i++) w.write(line(i));
    expect(writes).toEqual([line(0)]);
    await next();
    expect(writes.join("")).toBe(Array.from({ length: 100 }, (_, i) => line(i)).join(""));
    expect(writes.length).toBeLessThan(10);
    for (const chunk of writes) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(CHUNK_BYTES);
      expect(chunk.endsWith("\n")).toBe(true);
    }
    // A new turn: its first line goes out at once again.
    w.write(line(100));
    expect(writes.at(-1)).toBe(line(100));
  });

  it("writes what a turn keeps at once on logger.flush(), as the per-RPC line of a server with no other request in flight does", () => {
    const { writes, stream } = sink();
    for (const json of [true, false]) {
      writes.length = 0;
      const logger = createLogger({ json, level: "info", destination: stream });
      logger.warn({ reason: "reuse" }, "refresh token reused");
      logger.info({ procedure: "tessera.v1.AuthService/RefreshToken", code: "unauthenticated" }, "rpc");
      expect(writes.join(""), "only the turn's first line is out").not.toContain("RefreshToken");
      logger.flush();
      // Before this turn does anything else (its response): both lines, whole.
      expect(writes.join("").split("\n").filter(Boolean)).toHaveLength(2);
      expect(writes.join("")).toContain("RefreshToken");
    }
  });

  it("counts bytes, not characters, when cutting chunks", async () => {
    const { writes, stream } = sink();
    const w = createLineWriter(stream);
    const line = `${"é".repeat(1500)}\n`; // 3,001 bytes
    for (let i = 0; i < 4; i++) w.write(line);
    await next();
    for (const chunk of writes) expect(Buffer.byteLength(chunk) <= CHUNK_BYTES || chunk === line).toBe(true);
    expect(writes.join("")).toBe(line.repeat(4));
  });
});
