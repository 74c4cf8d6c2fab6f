/**
 * The house plan, enforced (docs/architecture.md): inside the server package, data flows
 * one way. A folder may import from its own layer or the layers below it, never above:
 *   lib < metrics < tracing < config < store < audit < mail < auth < abuse < services < server < console < app < commands
 * (`routes.ts` and `app.ts` are the composition root, at `app`). `deps.ts` is the
 * dependency-injection contract every factory takes: types only, importable from every
 * layer. And every service is bound as a complete ServiceImpl (routes.ts), never a Partial.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../../packages/server/src");
const LAYERS = ["lib", "metrics", "tracing", "config", "store", "audit", "mail", "auth", "abuse", "services", "server", "console", "app", "commands"];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The layer of a file under src: its top folder, or `app` for the composition root files. */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file);
  const top = rel.split(path.sep)[0]!;
  return top.endsWith(".ts") ? "app" : top;
}

describe("server architecture", () => {
  const all = files(SRC);

  it("knows the layer of every folder", () => {
    expect(all.map(layerOf).filter((l) => !LAYERS.includes(l))).toEqual([]);
  });

  it("has no upward import: store never imports auth or services, auth never imports the HTTP server", () => {
    const upward: string[] = [];
    for (const file of all) {
      const from = LAYERS.indexOf(layerOf(file));
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = path.resolve(path.dirname(file), m[1]!);
        if (!target.startsWith(SRC) || target === path.join(SRC, "deps.js")) continue;
        const to = LAYERS.indexOf(layerOf(target.replace(/\.js$/, ".ts")));
        if (to > from) upward.push(`${path.relative(SRC, file)} -> ${m[1]}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("keeps deps.ts a contract of types only", () => {
    const deps = readFileSync(path.join(SRC, "deps.ts"), "utf8");
    expect(deps.match(/^import (?!type ).*$/gm) ?? []).toEqual([]);
  });

  it("binds every service as a complete ServiceImpl", () => {
    const routes = readFileSync(path.join(SRC, "routes.ts"), "utf8");
    expect(routes).not.toMatch(/Partial</);
    for (const f of all.filter((f) => f.includes(`${path.sep}services${path.sep}`))) {
      expect(readFileSync(f, "utf8"), path.relative(SRC, f)).not.toMatch(/Partial<ServiceImpl/);
    }
  });

  it("keeps every source file under 300 lines", () => {
    const long = all.filter((f) => readFileSync(f, "utf8").split("\n").length > 300).map((f) => path.relative(SRC, f));
    expect(long).toEqual([]);
  });
});
