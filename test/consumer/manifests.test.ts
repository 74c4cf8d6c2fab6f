/**
 * The workspace packages' manifests against what they ship: one version for all, exact
 * internal pins, `exports` with types first, a `files` list that packs only dist, bin
 * and README, and every import in the built code declared as a dependency or peer
 * (and every dependency used). Reads the built packages (the global setup builds them).
 */
import { describe, expect, it } from "vitest";
import { builtinModules } from "node:module";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PACKAGES, REPO_ROOT, runOk } from "./npm.js";

interface Manifest {
  name: string;
  version: string;
  files?: string[];
  exports?: Record<string, unknown>;
  sideEffects?: boolean;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const manifest = (dir: string): Manifest => JSON.parse(readFileSync(path.join(REPO_ROOT, dir, "package.json"), "utf8")) as Manifest;
const packages = PACKAGES.map((p) => ({ ...p, path: path.join(REPO_ROOT, "packages", p.dir), json: manifest(`packages/${p.dir}`) }));
const INTERNAL = new Set<string>(PACKAGES.map((p) => p.name));
/** Imports allowed without a declaration: the console's bundler, reached only when the server runs from its sources. */
const DEV_ONLY_IMPORTS: Record<string, Record<string, string>> = { tessera: { esbuild: "dist/console/handler.js" } };

/** Every file under `dir`. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Bare specifiers a JavaScript or declaration file imports: `from "x"`, `import("x")`, `require("x")`, `require.resolve("x")`. */
function bareImports(source: string): string[] {
  const out: string[] = [];
  // The specifier must look like a package name: minified text such as `"Requested from",e.x` is no import.
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire(?:\.resolve)?\s*\(\s*|^\s*import\s+)["']([@a-z0-9][\w@/.:-]*)["']/gm;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[1]!);
  return out;
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
const packageOf = (spec: string) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");
const isBuiltin = (spec: string) => spec.startsWith("node:") || builtinModules.includes(packageOf(spec));

describe("package manifests", () => {
  it("move together: one version everywhere, internal dependencies pinned to it, a changelog entry for it", () => {
    const version = manifest(".").version;
    for (const p of packages) {
      expect(p.json.version, p.name).toBe(version);
      for (const deps of [p.json.dependencies, p.json.peerDependencies]) {
        for (const [dep, range] of Object.entries(deps ?? {})) if (INTERNAL.has(dep)) expect(range, `${p.name} -> ${dep}`).toBe(version);
      }
    }
    const changelog = readFileSync(path.join(REPO_ROOT, "CHANGELOG.md"), "utf8");
    expect(changelog).toMatch(new RegExp(`^## ${version.replace(/\./g, "\\.")}\\b`, "m"));
  });

  it("export types first, ./package.json, and only files that exist; each has a README", () => {
    for (const p of packages) {
      expect(p.json.exports?.["./package.json"], p.name).toBe("./package.json");
      expect(existsSync(path.join(p.path, "README.md")), `${p.name} README.md`).toBe(true);
      const walk = (node: unknown, where: string): void => {
        if (typeof node === "string") {
          expect(existsSync(path.join(p.path, node)), `${p.name} ${where} -> ${node}`).toBe(true);
          return;
        }
        const keys = Object.keys(node as object);
        if (keys.includes("types")) expect(keys[0], `${p.name} ${where}: "types" must come first`).toBe("types");
        for (const k of keys) walk((node as Record<string, unknown>)[k], `${where}.${k}`);
      };
      walk(p.json.exports, "exports");
      for (const bin of Object.values(p.json.bin ?? {})) expect(existsSync(path.join(p.path, bin)), `${p.name} bin ${bin}`).toBe(true);
    }
    for (const name of ["@tessera/sdk", "@tessera/connect", "@tessera/cli"]) expect(packages.find((p) => p.name === name)!.json.sideEffects, name).toBe(false);
  });

  it("pack only dist, bin, README and LICENSE", async () => {
    const r = await runOk("npm", ["pack", "--workspaces", "--dry-run", "--json", "--ignore-scripts"], REPO_ROOT);
    const packed = JSON.parse(r.stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
    expect(packed.map((p) => p.name).sort()).toEqual([...INTERNAL].sort());
    for (const p of packed) {
      const stray = p.files.map((f) => f.path).filter((f) => !/^(dist\/|bin\/|README\.md$|LICENSE$|package\.json$)/.test(f));
      expect(stray, p.name).toEqual([]);
      expect(
        p.files.some((f) => f.path === "README.md"),
        `${p.name} README.md`,
      ).toBe(true);
    }
  });

  it("import only what they declare, and declare only what they use", () => {
    for (const p of packages) {
      const declared = new Set([...Object.keys(p.json.dependencies ?? {}), ...Object.keys(p.json.peerDependencies ?? {})]);
      const used = new Set<string>();
      const undeclared: string[] = [];
      for (const file of [...filesUnder(path.join(p.path, "dist")), ...filesUnder(path.join(p.path, "bin"))]) {
        if (!/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(file)) continue;
        const rel = path.relative(p.path, file);
        for (const spec of bareImports(readFileSync(file, "utf8"))) {
          if (isBuiltin(spec)) continue;
          const pkg = packageOf(spec);
          if (pkg === p.name) continue;
          used.add(pkg);
          if (!declared.has(pkg) && DEV_ONLY_IMPORTS[p.name]?.[pkg] !== rel) undeclared.push(`${rel}: ${spec}`);
        }
      }
      expect(undeclared, `${p.name} imports undeclared packages`).toEqual([]);
      // A dependency nobody imports is allowed only to satisfy a peer of another dependency.
      const peersOfDeps = new Set(
        Object.keys(p.json.dependencies ?? {}).flatMap((d) =>
          INTERNAL.has(d) ? Object.keys(packages.find((q) => q.name === d)!.json.peerDependencies ?? {}) : [],
        ),
      );
      const unused = [...declared].filter((d) => !used.has(d) && !peersOfDeps.has(d));
      expect(unused, `${p.name} declares packages it never imports`).toEqual([]);
    }
  });

  it("keep the SDK's browser entry free of connect-node (an optional peer for @tessera/sdk/node only)", () => {
    const sdk = packages.find((p) => p.name === "@tessera/sdk")!;
    expect(sdk.json.peerDependenciesMeta?.["@connectrpc/connect-node"]?.optional).toBe(true);
    const importers = filesUnder(path.join(sdk.path, "dist"))
      .filter((f) => f.endsWith(".js") && bareImports(readFileSync(f, "utf8")).includes("@connectrpc/connect-node"))
      .map((f) => path.relative(sdk.path, f))
      .sort();
    expect(importers).toEqual(["dist/cjs/node.js", "dist/esm/node.js"]);
  });
});
