/**
 * The packages as their users get them: `npm pack` every workspace package, install the
 * tarballs into fresh projects outside the repository (third-party dependencies from the
 * registry or the npm cache), and use them there: plain `node` ESM and CommonJS scripts
 * against a running server, a browser bundle, `tsc`, a Connect service behind the
 * interceptor, `npx tessera serve` from a read-only install, and `@tessera/cli` alone.
 * Prints what each installed package weighs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/net.js";
import { formatBytes, installedSize } from "./install-size.js";
import { background, npmInstall, packAll, PACKAGES, REPO_ROOT, run, runOk, type Background } from "./npm.js";
import { changedPaths, snapshotTree } from "./tree-snapshot.js";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
/**
 * The SDK's browser bundle budget (min+gzip bytes): 40 447 before the split; raised by
 * 1 000 B for what issues 17-19 added to the contract and the session (provider kinds,
 * linking, the verification flag and its error), measured at 41 490; raised by 1 000 B
 * for the second factor (issue 18: `signIn`'s MfaRequiredError and `verifyMfa`, which
 * brings MfaService's descriptor into every session), measured at 42 541 (42 834 with issues 19-20 merged).
 */
const BUNDLE_BUDGET_EVERYTHING = 43_000;
/** Third-party packages of the server that must never reach a browser bundle. */
const SERVER_ONLY = [
  "@electric-sql/pglite",
  "@node-rs/argon2",
  "@zxcvbn-ts",
  "kysely",
  "pg",
  "pino",
  "ioredis",
  "commander",
  "jose",
  "@connectrpc/connect-node",
  "tessera/",
  "@tessera/cli",
];
const ADMIN = { AUTH_ADMIN_EMAIL: "admin@example.com", AUTH_ADMIN_PASSWORD: "a long consumer-test password" };
/** The version of `dep` the repository uses, so the consumer project gets the same one. */
const versions = (dep: string) => (JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", dep, "package.json"), "utf8")) as { version: string }).version;

let work: string; // the temporary directory, outside the repository
let app: string; // a project with every package installed (and what its code imports), nothing else
let tools: string; // esbuild and TypeScript, kept apart so the server cannot lean on them
let tarballs: Map<string, string>;

/** Creates an empty private project at `dir`. */
function project(dir: string): string {
  mkdirSync(dir);
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: path.basename(dir), version: "1.0.0", private: true }));
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "tessera-consumer-"));
  expect(path.relative(REPO_ROOT, work).startsWith("..")).toBe(true);
  tarballs = await packAll(work);
  expect([...tarballs.keys()].sort()).toEqual(PACKAGES.map((p) => p.name).sort());
  app = project(path.join(work, "app"));
  tools = project(path.join(work, "tools"));
  await Promise.all([
    npmInstall(app, [
      ...tarballs.values(),
      `@connectrpc/connect@${versions("@connectrpc/connect")}`,
      `@connectrpc/connect-node@${versions("@connectrpc/connect-node")}`,
      `@bufbuild/protobuf@${versions("@bufbuild/protobuf")}`,
    ]),
    npmInstall(tools, [`esbuild@${versions("esbuild")}`, `typescript@${versions("typescript")}`, `@types/node@${versions("@types/node")}`]),
  ]);
  for (const f of readdirSync(FIXTURES)) copyFileSync(path.join(FIXTURES, f), path.join(f === "bundle-sdk.mjs" ? tools : app, f));
}, 300_000);

afterAll(() => {
  if (work) {
    chmodTree(path.join(work, "app", "node_modules"), true);
    rmSync(work, { recursive: true, force: true });
  }
});

/** Makes everything under `dir` writable by its owner again, or read-only for everyone. */
function chmodTree(dir: string, writable: boolean): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) chmodTree(p, writable);
    const mode = statSync(p).mode & 0o777;
    chmodSync(p, writable ? mode | 0o200 : mode & ~0o222);
  }
  const mode = statSync(dir).mode & 0o777;
  chmodSync(dir, writable ? mode | 0o200 : mode & ~0o222);
}

describe("the packed packages, installed in a fresh project", () => {
  it("install only dist, bin and README, and each resolves from the project", async () => {
    for (const { name } of PACKAGES) {
      const dir = path.join(app, "node_modules", name);
      const top = readdirSync(dir).sort();
      expect(
        top.filter((f) => !["bin", "dist", "package.json", "README.md", "LICENSE"].includes(f)),
        name,
      ).toEqual([]);
    }
    const r = await runOk(
      "node",
      ["-e", 'for (const m of ["@tessera/sdk", "@tessera/sdk/node", "@tessera/connect", "@tessera/cli", "tessera/commands"]) console.log(require.resolve(m))'],
      app,
    );
    for (const line of r.stdout.trim().split("\n")) expect(line.startsWith(path.join(app, "node_modules"))).toBe(true);
    // No bundler, TypeScript or loader reached the project through the packages.
    for (const tool of ["esbuild", "typescript", "tsx"]) expect(existsSync(path.join(app, "node_modules", tool)), tool).toBe(false);
  });

  describe("against `npx tessera serve` from a read-only install", () => {
    let server: Background;
    let baseUrl: string;
    let apiKey: string;
    let before: Map<string, string>;
    const runDir = () => path.join(app, "run"); // inside the project, so npx finds its `tessera`

    beforeAll(async () => {
      // The install directory is read-only; data goes to ./.tessera/data in the working
      // directory. As root (who ignores file modes) the server runs as `nobody`, for whom
      // all of node_modules is read-only.
      const nm = path.join(app, "node_modules");
      chmodTree(path.join(nm, "tessera"), false);
      chmodTree(path.join(nm, "@tessera"), false);
      before = snapshotTree(nm);
      mkdirSync(runDir());
      const npmCache = path.join(work, "npm-home");
      mkdirSync(npmCache);
      let ids: { uid: number; gid: number } | undefined;
      if (process.getuid?.() === 0) {
        ids = { uid: 65534, gid: 65534 };
        for (const d of [work, app]) chmodSync(d, 0o755);
        for (const d of [runDir(), npmCache]) chownSync(d, ids.uid, ids.gid);
      }
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      server = background(
        "npx",
        ["tessera", "serve"],
        runDir(),
        { ...ADMIN, AUTH_MODE: "admin", HOST: "127.0.0.1", PORT: String(port), HOME: npmCache, npm_config_cache: path.join(npmCache, "cache") },
        ids,
      );
      const deadline = Date.now() + 90_000;
      for (;;) {
        const ok = await fetch(`${baseUrl}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (server.child.exitCode !== null || Date.now() > deadline) throw new Error(`tessera serve did not become healthy:\n${server.output()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      chmodTree(path.join(app, "node_modules"), true);
    });

    it("serves /health and the prebuilt console, writing only under the working directory", async () => {
      const health = (await (await fetch(`${baseUrl}/health`)).json()) as Record<string, string>;
      expect(health).toMatchObject({ status: "ok", auth_mode: "admin", database: "ok" });
      const script = await fetch(`${baseUrl}/console/app.js`);
      expect(script.status).toBe(200);
      expect((await script.text()).length).toBeGreaterThan(1000);
      expect(existsSync(path.join(runDir(), ".tessera", "data"))).toBe(true);
      // As root, the server really ran as nobody: its data directory is nobody's.
      if (process.getuid?.() === 0) expect(statSync(path.join(runDir(), ".tessera", "data")).uid).toBe(65534);
      expect(changedPaths(before, snapshotTree(path.join(app, "node_modules")))).toEqual([]);
    });

    it("runs a plain node ESM script that creates an API key and calls CheckToken", async () => {
      const r = await runOk("node", ["esm-api-key.mjs"], app, {
        env: { TESSERA_URL: baseUrl, ADMIN_EMAIL: ADMIN.AUTH_ADMIN_EMAIL, ADMIN_PASSWORD: ADMIN.AUTH_ADMIN_PASSWORD },
      });
      const out = JSON.parse(r.stdout) as Record<string, string>;
      expect(fileURLToPath(out.resolved!)).toBe(path.join(app, "node_modules/@tessera/sdk/dist/esm/node.js"));
      expect(out.kind).toBe("API_KEY");
      expect(out.accountId).toBe(out.expectedAccountId);
      expect(r.stderr).toBe("");
      apiKey = out.apiKey!;
    });

    it("runs a CommonJS script that does the same through require()", async () => {
      const r = await runOk("node", ["cjs-api-key.cjs"], app, {
        env: { TESSERA_URL: baseUrl, ADMIN_EMAIL: ADMIN.AUTH_ADMIN_EMAIL, ADMIN_PASSWORD: ADMIN.AUTH_ADMIN_PASSWORD },
      });
      const out = JSON.parse(r.stdout) as { resolved: string[]; interceptor: string; kind: string; accountId: string; expectedAccountId: string };
      expect(out.resolved).toEqual([
        path.join(app, "node_modules/@tessera/sdk/dist/cjs/node.js"),
        path.join(app, "node_modules/@tessera/connect/dist/cjs/index.js"),
      ]);
      expect(out).toMatchObject({ interceptor: "function", kind: "API_KEY" });
      expect(out.accountId).toBe(out.expectedAccountId);
    });

    it("authenticates a tiny Connect service's callers with the interceptor: with and without a key", async () => {
      expect(apiKey).toMatch(/^tsk_/);
      const r = await runOk("node", ["interceptor-service.mjs"], app, { env: { TESSERA_URL: baseUrl, API_KEY: apiKey } });
      const out = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
      expect(out.tesseraKey).toMatchObject({ ok: true, kind: "api_key", via: "introspection" });
      expect(out.ownKey).toEqual({ ok: true, userId: "own-user", kind: "custom", via: "verifier" });
      expect(out.wrongOwnKey).toMatchObject({ ok: false, code: 16 });
      expect(out.noKey).toEqual({ ok: false, code: 16, message: "missing bearer token" });
    });
  });

  it("bundles the SDK for the browser without Node built-ins or server dependencies, within budget", async () => {
    // esbuild comes from the tools project; the SDK resolves from the app (the working directory).
    const r = await runOk("node", [path.join(tools, "bundle-sdk.mjs")], app);
    const out = JSON.parse(r.stdout) as Record<
      "everything" | "oneService",
      { minified: number; gzip: number; inputs: string[]; imports: string[]; text: string }
    >;
    for (const [name, b] of Object.entries(out)) {
      expect(
        b.inputs.some((i) => i.includes("node_modules/@tessera/sdk/dist/esm/")),
        name,
      ).toBe(true);
      expect(
        b.imports.filter((i) => i.startsWith("node:")),
        name,
      ).toEqual([]);
      expect(
        b.inputs.filter((i) => SERVER_ONLY.some((s) => i.includes(`node_modules/${s}`))),
        name,
      ).toEqual([]);
      expect(b.text, name).not.toMatch(/\brequire\(["'](node:)?(http2?|https|net|tls|fs|zlib|crypto|stream|os|path)["']\)/);
    }
    const only = (b: { inputs: string[] }) =>
      b.inputs
        .filter((i) => i.includes("@tessera/sdk/dist/esm/gen/"))
        .map((i) => path.basename(i))
        .sort();
    // A session signs in, so it can finish a sign-in's second factor: MfaService (VerifyMfa) comes along.
    expect(only(out.everything)).toEqual(["api_key_pb.js", "auth_pb.js", "mfa_pb.js", "user_account_pb.js"]);
    expect(only(out.oneService)).toEqual(["auth_pb.js", "mfa_pb.js"]);
    console.log(
      `SDK browser bundle (esbuild --minify, gzip -9): createTesseraClient ${out.everything.minified} B min, ${out.everything.gzip} B min+gzip; ` +
        `createTesseraSession + AuthService ${out.oneService.minified} B min, ${out.oneService.gzip} B min+gzip`,
    );
    expect(out.everything.gzip).toBeLessThanOrEqual(BUNDLE_BUDGET_EVERYTHING);
    expect(out.oneService.gzip).toBeLessThan(out.everything.gzip);
  });

  it("type-checks a consumer file (and the shipped declarations) as ESM, CommonJS and with node10 resolution", async () => {
    for (const ext of ["mts", "cts"]) copyFileSync(path.join(app, "typed-consumer.ts"), path.join(app, `typed-consumer.${ext}`));
    const tsc = path.join(tools, "node_modules/typescript/bin/tsc");
    for (const config of ["tsconfig.nodenext.json", "tsconfig.node10.json"]) {
      const r = await run("node", [tsc, "-p", config], app, { timeoutMs: 120_000 });
      expect(`${r.stdout}${r.stderr}`, config).toBe("");
      expect(r.code, config).toBe(0);
    }
  }, 120_000);

  it("installs @tessera/cli without the server: --help works, serve says how to get the server", async () => {
    const cli = path.join(work, "cli-only");
    mkdirSync(cli);
    writeFileSync(path.join(cli, "package.json"), JSON.stringify({ name: "cli-only", version: "1.0.0", private: true }));
    await npmInstall(cli, [tarballs.get("@tessera/sdk")!, tarballs.get("@tessera/cli")!]);
    for (const absent of ["tessera", "@electric-sql", "@node-rs", "kysely", "pg", "pino", "jose"])
      expect(existsSync(path.join(cli, "node_modules", absent)), absent).toBe(false);
    const help = await runOk("npx", ["tessera", "--help"], cli);
    expect(help.stdout).toMatch(/apikeys/);
    expect(help.stdout.replace(/\s+/g, " ")).toMatch(/ serve run the server [^:]*\(needs the tessera server package\)/);
    const serve = await run("npx", ["tessera", "serve"], cli);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/`tessera serve` needs the server, the `tessera` package: `npm install tessera`/);
    expect((await runOk("npx", ["tessera", "--version"], cli)).stdout.trim()).toBe(
      JSON.parse(readFileSync(path.join(REPO_ROOT, "packages/cli/package.json"), "utf8")).version,
    );
    const s = installedSize(cli, "@tessera/cli");
    console.log(`@tessera/cli alone: ${formatBytes(s.ownBytes)} itself, ${formatBytes(s.closureBytes)} with its ${s.closurePackages - 1} dependencies`);
  }, 120_000);

  it("prints the installed size of each package and of its dependency closure", () => {
    const rows = PACKAGES.map(({ name }) => installedSize(app, name));
    const lines = rows.map((s) => `| \`${s.name}\` | ${formatBytes(s.ownBytes)} | ${formatBytes(s.closureBytes)} | ${s.closurePackages} |`);
    console.log(["| package | installed | with its dependencies | packages |", "|---|---|---|---|", ...lines].join("\n"));
    const sdk = rows.find((r) => r.name === "@tessera/sdk")!;
    const server = rows.find((r) => r.name === "tessera")!;
    expect(sdk.closureBytes).toBeLessThan(server.closureBytes / 5);
  });
});
