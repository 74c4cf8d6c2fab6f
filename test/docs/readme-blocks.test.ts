/**
 * The newcomer path, pasted literally (issue 15). The shell blocks of README.md and of the
 * docs pages that start a server run in reading order, in one fresh data directory, against
 * real servers started the way the README says (`npm start &`). They run as a terminal runs
 * them: bash with job control (`set -m`), so `kill %1` stops the whole `npm start` job as in
 * an interactive shell, and with `-e`, so any failing command fails its block. Only the port
 * moves: 8080 becomes a free port (`PORT` for `npm start`, and in the URLs). Every block
 * must stop what it started: no process left, the port free again.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { spawn } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../helpers/net.js";
import { codeBlocks, ROOT, type CodeBlock } from "./markdown.js";

/** The pages whose shell blocks run, in the order a newcomer reads them. */
const PAGES = ["README.md", "docs/authentication.md", "docs/cli.md", "docs/operations.md"];

/** What each run block of a page must print (stdout without the server's log lines), in order. */
const EXPECTED: Record<string, Array<(out: string, port: number) => void>> = {
  "README.md": [
    (out, port) => {
      expect(out).toContain('"auth_mode":"none","database":"ok"');
      expect(count(out, `{"mode":"AUTH_MODE_NONE","issuer":"http://127.0.0.1:${port}"}`)).toBe(2); // POST and GET
      expect(count(out, '"mode": "AUTH_MODE_NONE"')).toBe(2); // gRPC and gRPC-web
    },
    (out) => {
      expect(count(out, '"principalKind":"PRINCIPAL_KIND_API_KEY"')).toBe(2); // the key, then its new value
      expect(count(out, '"code":"unauthenticated"')).toBe(2); // the old value, then the deleted one
    },
  ],
  "docs/authentication.md": [
    (out, port) => {
      expect(out).toContain(`"issuer":"http://127.0.0.1:${port}","jwks_uri":"http://127.0.0.1:${port}/.well-known/jwks.json"`);
      expect(out).toMatch(/\{"keys":\[\{"kty":"EC","crv":"P-256",.*"alg":"ES256","use":"sig"\}/);
    },
    (out) => {
      expect(count(out, '"principalKind":"PRINCIPAL_KIND_USER"')).toBe(1);
      expect(count(out, '{"code":"unauthenticated","message":"session has been revoked"}')).toBe(2);
    },
  ],
  "docs/cli.md": [
    (out) => {
      expect(out).toMatch(/^user [0-9a-f-]{36} \(API_KEY\) account [0-9a-f-]{36} key [0-9a-f-]{36} expires \d{4}-/m);
      expect(out).toMatch(/^ID +NAME +STARTS WITH/m);
      expect(out).toMatch(/^\S+ +ci +tsk_/m);
    },
  ],
  "docs/operations.md": [
    (out) => {
      expect(out).toMatch(/^KID\tALG\tCREATED\tSTATE\n\S+\tES256\t\S+\tactive$/m); // admin and full mode made a key
      expect(out).toMatch(/^applied \S+\t0001-initial$/m);
    },
  ],
};

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** The blocks of a page that run: its `sh` blocks without a "not run" marker. */
function runBlocks(page: string): CodeBlock[] {
  return codeBlocks(page).filter((b) => b.lang === "sh" && !b.notRun);
}

/** The ids of the live processes in session `sid` (everything a block started, jobs included). */
function sessionProcesses(sid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields: state, ppid, pgrp, session; a zombie (Z) has ended, only its parent has not reaped it.
      if (Number(fields[3]) === sid && fields[0] !== "Z") pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** True when nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

interface BlockRun {
  code: number | null;
  /** stdout without the server's JSON log lines. */
  out: string;
  err: string;
  /** Processes of the block still alive after it ended (then killed). */
  leftOver: number[];
}

/** Runs one block as a terminal would, with 8080 moved to `port`. */
async function runBlock(block: CodeBlock, port: number, env: Record<string, string>, timeoutMs: number): Promise<BlockRun> {
  const script = block.text.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`).replaceAll("localhost:8080", `localhost:${port}`);
  expect(script, `${block.page}:${block.line} names a port the test does not move`).not.toMatch(/8080/);
  // A session of its own (detached): every process the block starts, its jobs included, stays in it.
  const child = spawn("bash", ["-e", "-c", `set -m\n${script}`], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const sid = child.pid!;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const pid of sessionProcesses(sid)) process.kill(pid, "SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  // `wait` returns when npm has exited; the server it started finishes its graceful stop a
  // moment later (npm's shell does not wait for it). It must end by itself, well within
  // SHUTDOWN_TIMEOUT_SECONDS.
  const deadline = Date.now() + 15_000;
  while (sessionProcesses(sid).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const leftOver = sessionProcesses(sid);
  for (const pid of leftOver) process.kill(pid, "SIGKILL");
  if (timedOut) err += `\n(timed out after ${timeoutMs} ms)`;
  const out = stdout
    .split("\n")
    .filter((l) => !l.includes('"service":"tessera"'))
    .join("\n");
  return { code, out, err, leftOver };
}

describe("the README's shell blocks, pasted literally", () => {
  let scratch: string;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "tessera-readme-"));
    port = await freePort();
    let PATH = process.env.PATH ?? "/usr/bin:/bin";
    // In a git worktree whose node_modules links another checkout's, `npx tessera` would run
    // that checkout's command; run this one's, as a fresh clone does (CI).
    if (!realpathSync(path.join(ROOT, "node_modules/.bin/tessera")).startsWith(ROOT + path.sep)) {
      const shims = path.join(scratch, "bin");
      mkdirSync(shims);
      const npx = path.join(shims, "npx");
      // The shim drops its own folder from PATH before handing anything else to the real npx.
      writeFileSync(
        npx,
        `#!/bin/sh\nif [ "$1" = tessera ]; then shift; exec node "${ROOT}/packages/cli/bin/tessera.js" "$@"; fi\nPATH="\${PATH#*:}" exec npx "$@"\n`,
      );
      chmodSync(npx, 0o755);
      PATH = `${shims}:${PATH}`;
    }
    env = {
      PATH,
      HOME: process.env.HOME ?? scratch,
      LANG: "C.UTF-8",
      PORT: String(port),
      TESSERA_DATA_DIR: path.join(scratch, "data"),
      TESSERA_CONFIG_DIR: path.join(scratch, "config"),
    };
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("README.md keeps the first five minutes in at most 200 lines, with the two commands", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme.split("\n").length).toBeLessThanOrEqual(200);
    expect(readme).toContain("npm install && npm start");
    expect(readme).toMatch(/^npm test\b/m);
  });

  it("runs every shell block of the listed pages, or says why not", () => {
    for (const page of PAGES) {
      const sh = codeBlocks(page).filter((b) => b.lang === "sh");
      expect(sh.length, page).toBeGreaterThan(0);
      expect(runBlocks(page).length, `${page}: expectations for each block that runs`).toBe(EXPECTED[page]!.length);
    }
  });

  for (const page of PAGES) {
    it(`${page}: each block runs as pasted and stops its server`, async () => {
      const expectations = EXPECTED[page]!;
      for (const [i, block] of runBlocks(page).entries()) {
        const run = await runBlock(block, port, env, 150_000);
        const where = `${page}:${block.line}\n--- stdout\n${run.out}\n--- stderr\n${run.err}`;
        expect(run.code, where).toBe(0);
        expect(run.leftOver, `${where}\nprocesses left running`).toEqual([]);
        expect(await portFree(port), `${where}\nthe port is still taken`).toBe(true);
        expect(run.out, where).not.toMatch(/EADDRINUSE|already exists|command not found/);
        if (process.env.DEBUG_BLOCKS) process.stderr.write(`${where}\n`);
        expectations[i]!(run.out, port);
      }
    }, 400_000);
  }

  it("docs/operations.md: on a new data directory in AUTH_MODE=none, keys list prints its header and says there is no key", async () => {
    const [block] = runBlocks("docs/operations.md");
    // A new, migrated data directory (a copy of the test template: no signing key yet).
    const dataDir = path.join(scratch, "none-data");
    cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
    const run = await runBlock(block!, port, { ...env, TESSERA_DATA_DIR: dataDir }, 150_000);
    expect(run.code, run.out + run.err).toBe(0);
    expect(run.out).toMatch(/^KID\tALG\tCREATED\tSTATE\nno signing keys yet: AUTH_MODE=none signs no tokens; .*admin or full creates one$/m);
  }, 200_000);
});
