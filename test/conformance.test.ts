/**
 * CONFORMANCE.md names tests as evidence (`file` › "test name"): every one must exist,
 * word for word, in the file it names, and every applicable row must name one unless it
 * is a documentation requirement or says why it is not met.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const doc = readFileSync(path.join(root, "CONFORMANCE.md"), "utf8");
const REF = /`([\w./-]+\.test\.ts)` › "([^"]+)"/g;
const HAS_REF = new RegExp(REF.source);

describe("CONFORMANCE.md", () => {
  it("names only tests that exist, in the files it names", () => {
    const refs = [...doc.matchAll(REF)].map((m) => ({ file: m[1]!, name: m[2]! }));
    expect(refs.length).toBeGreaterThan(100);
    const missing = refs.filter(({ file, name }) => {
      const p = path.join(root, "test", file);
      return !existsSync(p) || !readFileSync(p, "utf8").includes(name);
    });
    expect(missing).toEqual([]);
  });

  it("gives every applicable requirement a test, a document, or a stated reason", () => {
    const rows = doc.split("\n").filter((l) => /^\| (\d+\.\d+\.\d+|3\.\d+ )/.test(l));
    expect(rows.length).toBe(182 + 12);
    for (const row of rows) {
      const status = row.split("|")[row.startsWith("| 3.") ? 2 : 3]!.trim().replace(/\*/g, "");
      expect(["met", "met (doc)", "partial", "not met", "n/a"], row).toContain(status);
      if (status === "met" || status === "partial") expect(row, row).toMatch(HAS_REF);
      if (status === "met (doc)" || status === "not met" || status === "n/a") expect(row.split("|")[row.startsWith("| 3.") ? 3 : 4]!.trim().length, row).toBeGreaterThan(5);
    }
  });
});
