/**
 * The examples run as plain `node` child processes (the built SDK) against a real Tessera
 * with real API keys created through the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createTesseraClient, type TesseraClient } from "../packages/sdk/src/node.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string): Promise<void>;
}

function runExample(name: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, [path.join(root, "examples", name, "index.mjs")], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: Run = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((r) => child.on("exit", (code) => r(code))),
    waitFor(text) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (run.stdout.includes(text)) resolve();
        };
        child.stdout!.on("data", check);
        child.on("exit", () => (run.stdout.includes(text) ? resolve() : reject(new Error(`exited before "${text}": ${run.stdout} ${run.stderr}`))));
        check();
      });
    },
  };
  child.stdout!.on("data", (d: Buffer) => (run.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

describe("examples against a real server", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let owner: TesseraClient;
  let accountId: string;
  const running: Run[] = [];

  async function createKey(expiresAt = new Date(Date.now() + 30 * 86_400_000)) {
    const res = await owner.apiKeys.createAccountApiKey({
      accountId,
      name: `example ${randomBytes(3).toString("hex")}`,
      expiresAt: timestampFromDate(expiresAt),
    });
    return { id: res.apiKey!.id, key: res.keyValue };
  }
  function start(name: string, env: Record<string, string>): Run {
    const r = runExample(name, { TESSERA_API_URL: t.server.baseUrl, ...env });
    running.push(r);
    return r;
  }

  beforeAll(async () => {
    owner = createTesseraClient({ baseUrl: t.server.baseUrl });
    const tag = randomBytes(4).toString("hex");
    await owner.signUp(`examples-${tag}@example.test`, `pw ${randomBytes(12).toString("base64")} ${tag}`);
    accountId = (await owner.userAccounts.getUserAccounts({})).accounts[0]!.id;
  });
  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  });

  it("examples/script prints CheckToken for a real API key", async () => {
    const { id, key } = await createKey();
    const run = start("script", { TESSERA_API_KEY: key });
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^user [0-9a-f-]{36} \\(API_KEY\\) account ${accountId} key ${id} expires \\d{4}-`));
    expect(run.stdout + run.stderr).not.toContain(key);
  });

  it("examples/script fails with one line for a bad key", async () => {
    const run = start("script", { TESSERA_API_KEY: "tsk_notarealkey0000000000000000" });
    expect(await run.exited).toBe(1);
    expect(run.stderr.trim()).toMatch(/^CheckToken failed: \[unauthenticated\]/);
  });

  it("examples/worker runs its rounds and stops with 0", async () => {
    const { key } = await createKey();
    const run = start("worker", { TESSERA_API_KEY: key, WORKER_ITERATIONS: "2", WORKER_INTERVAL_MS: "50" });
    expect(await run.exited).toBe(0);
    expect(run.stdout).toContain(`of account ${accountId}`);
    expect(run.stdout).toContain("round 2: ok, 1 account(s) visible");
    expect(run.stdout + run.stderr).not.toContain(key);
  });

  it("examples/worker stops with 4 and says what to do when its key is deleted", async () => {
    const { id, key } = await createKey();
    const run = start("worker", { TESSERA_API_KEY: key, WORKER_INTERVAL_MS: "100" });
    await run.waitFor("round 1: ok");
    await owner.apiKeys.deleteAccountApiKey({ id });
    expect(await run.exited).toBe(4);
    expect(run.stderr).toMatch(/api key rejected .*deleted or regenerated.*tessera apikeys list/);
  });

  it("examples/worker stops with 3 and says how to get a new key when its key expires", async () => {
    // Long enough for a slow `tsx` start (seconds on a loaded machine) to see the key valid first.
    const { key } = await createKey(new Date(Date.now() + 12_000));
    const run = start("worker", { TESSERA_API_KEY: key, WORKER_INTERVAL_MS: "200" });
    await run.waitFor("round 1: ok");
    expect(run.stdout).toContain("warning: the api key expires within 7 days");
    expect(await run.exited).toBe(3);
    expect(run.stderr).toMatch(/^api key expired at .*: create a new one with `tessera apikeys create --name worker --expires-in 30d`/);
  }, 45_000);

  it("examples/worker stops cleanly on SIGTERM and refuses a missing key with 2", async () => {
    const { key } = await createKey();
    const run = start("worker", { TESSERA_API_KEY: key, WORKER_INTERVAL_MS: "10000" });
    await run.waitFor("round 1: ok");
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.stdout).toContain("stopped");
    const missing = start("worker", {});
    expect(await missing.exited).toBe(2);
    expect(missing.stderr).toContain("TESSERA_API_KEY is not set");
  });
});
