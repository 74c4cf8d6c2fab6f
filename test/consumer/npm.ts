/**
 * Runs npm, npx and node for the consumer tests the way a user's shell would: in a
 * directory outside the repository, with none of the `npm_*` variables an enclosing
 * `npm test` sets (they would point npm back at the repository's workspaces).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The workspace packages, in build order: directory and package name. */
export const PACKAGES = [
  { dir: "sdk", name: "@tessera/sdk" },
  { dir: "connect", name: "@tessera/connect" },
  { dir: "cli", name: "@tessera/cli" },
  { dir: "server", name: "tessera" },
] as const;

/** This process's environment without npm's per-run settings, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === "INIT_CWD" || k.startsWith("VITEST") || k === "NODE_OPTIONS" || k === "NODE_ENV" || k === "TEST") continue;
    env[k] = v;
  }
  return { ...env, NO_UPDATE_NOTIFIER: "1", ...extra };
}

/** A finished command: exit code and output. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` in `cwd` to completion (at most `timeoutMs`); never throws on a non-zero exit. */
export function run(cmd: string, args: string[], cwd: string, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: cleanEnv(opts.env), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(Object.assign(err, { stdout, stderr }));
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** Like `run`, but fails with the command's output unless it exits 0. */
export async function runOk(cmd: string, args: string[], cwd: string, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Ran> {
  const r = await run(cmd, args, cwd, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `npm pack`s every workspace package (built beforehand) into `dest`; returns package name -> tarball path. */
export async function packAll(dest: string): Promise<Map<string, string>> {
  const r = await runOk("npm", ["pack", "--workspaces", "--pack-destination", dest, "--json", "--ignore-scripts"], REPO_ROOT);
  const out = JSON.parse(r.stdout) as Array<{ name: string; filename: string }>;
  return new Map(out.map((p) => [p.name, path.join(dest, p.filename)]));
}

/** `npm install`s `specs` (tarballs, registry names) into the project at `dir`, from the npm cache when it can. */
export function npmInstall(dir: string, specs: string[]): Promise<Ran> {
  return runOk("npm", ["install", ...specs, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], dir, { timeoutMs: 240_000 });
}

/** A long-running child (a server): its output so far, and a way to stop it and its children. */
export interface Background {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts `cmd args` in its own process group (so `stop` reaches what npx starts), as `uid` when given. */
export function background(cmd: string, args: string[], cwd: string, env: Record<string, string>, ids?: { uid: number; gid: number }): Background {
  const child = spawn(cmd, args, { cwd, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"], detached: true, ...ids });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          /* already gone */
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            /* already gone */
          }
        }, 10_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
}
