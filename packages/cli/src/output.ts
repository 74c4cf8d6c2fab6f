/**
 * Human output (aligned tables, key/value lists) and `--output json` for scripts,
 * plus the prompts of interactive commands.
 */
import { createInterface } from "node:readline";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { UsageError } from "./errors.js";

/** `--output` values. */
export type OutputFormat = "table" | "json";

/** Validates `--output`. */
export function parseOutputFormat(v: unknown): OutputFormat {
  if (v === undefined || v === "table" || v === "text") return "table";
  if (v === "json") return "json";
  throw new UsageError(`--output must be "table" or "json", not ${JSON.stringify(String(v).slice(0, 20))}`);
}

/** Writes a line to stdout. */
export function out(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr (notes that scripts should not parse). */
export function note(line = ""): void {
  process.stderr.write(`${line}\n`);
}

/** Writes a value as indented JSON to stdout. */
export function printJson(v: unknown): void {
  out(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x), 2));
}

/** Prints rows as a table with aligned columns under upper-case headers. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  out(line(headers.map((h) => h.toUpperCase())));
  for (const r of rows) out(line(r));
}

/** Prints `key  value` pairs with aligned values. */
export function printFields(fields: Array<[string, string]>): void {
  const w = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) out(`${(`${k}:`).padEnd(w + 1)}  ${v}`);
}

/** A timestamp as `YYYY-MM-DD HH:MM UTC`, or "-" when unset. */
export function formatTime(t: Timestamp | undefined): string {
  if (!t) return "-";
  return `${timestampDate(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Lines read from stdin and not yet asked for; one reader for the whole run. */
const stdinLines: string[] = [];
let stdinReader: ReturnType<typeof createInterface> | undefined;
let stdinEnded = false;
let lineArrived: (() => void) | undefined;

/**
 * Reads the next line from stdin (not a TTY), e.g. a piped password and then a piped
 * one-time code: one reader keeps the lines of a chunk for the next question. Empty at
 * the end of input. Stdin is paused between questions, so it never holds the process open.
 */
export async function readStdinLine(): Promise<string> {
  if (!stdinReader) {
    stdinReader = createInterface({ input: process.stdin, terminal: false });
    stdinReader.on("line", (l) => {
      stdinLines.push(l);
      lineArrived?.();
    });
    stdinReader.on("close", () => {
      stdinEnded = true;
      lineArrived?.();
    });
  }
  while (stdinLines.length === 0 && !stdinEnded) {
    stdinReader.resume();
    await new Promise<void>((resolve) => (lineArrived = resolve));
    lineArrived = undefined;
  }
  if (!stdinEnded) stdinReader.pause();
  return stdinLines.shift() ?? "";
}

/** Asks a question on the terminal (stderr), echoing the answer. */
export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** Asks for a secret on the terminal without echoing it. */
export async function askSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readStdinLine();
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  return new Promise<string>((resolve, reject) => {
    let value = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new UsageError("cancelled"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}
