/**
 * Runs the real `tessera` command (`node packages/server/bin/tessera.js ...`) in a child process with a
 * clean environment, as a user would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");

/** What a finished command printed and its exit code. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collects what a child process prints until it exits. */
export function outputOf(child: ChildProcess): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `tessera <args>` to completion with PATH, HOME, LOG_LEVEL=warn and `env`. */
export function runTessera(args: string[], env: Record<string, string>): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return outputOf(child);
}
