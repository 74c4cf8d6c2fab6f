/**
 * CONFORMANCE.md names tests as evidence (`file` › "test name"): every one must exist,
 * word for word, in the file it names, and every applicable row must name one unless it
 * is a documentation requirement or says why it is not met. A documentation requirement's
 * evidence is a section of README.md, a page of docs/ (`docs/x.md "Section"`), SECURITY.md
 * or CONFORMANCE.md itself, or a file: every section it cites must exist under that heading
 * in the document it names, and every file it names must exist.
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
      if (status === "met (doc)" || status === "not met" || status === "n/a")
        expect(row.split("|")[row.startsWith("| 3.") ? 3 : 4]!.trim().length, row).toBeGreaterThan(5);
    }
  });

  it("cites, for every documentation requirement, sections and files that exist", () => {
    const documents: Record<string, string> = {
      README: readFileSync(path.join(root, "README.md"), "utf8"),
      "SECURITY.md": readFileSync(path.join(root, "SECURITY.md"), "utf8"),
      "This file": doc,
      "this file": doc,
    };
    /** The named document's text: one of the above, or a page of docs/ (undefined when it does not exist). */
    const documentText = (name: string): string | undefined => {
      if (documents[name] !== undefined) return documents[name];
      const file = path.join(root, name);
      if (!name.startsWith("docs/") || !existsSync(file)) return undefined;
      documents[name] = readFileSync(file, "utf8");
      return documents[name];
    };
    /** The text under heading `title` (to the next heading of the same or a higher level), or undefined. */
    const section = (md: string, title: string): string | undefined => {
      const lines = md.split("\n");
      const at = lines.findIndex((l) => /^#{1,4} /.test(l) && l.replace(/^#+ /, "").trim() === title);
      if (at < 0) return undefined;
      const level = lines[at]!.match(/^#+/)![0].length;
      const end = lines.findIndex((l, i) => i > at && new RegExp(`^#{1,${level}} `).test(l));
      return lines.slice(at + 1, end < 0 ? undefined : end).join("\n");
    };
    const rows = doc.split("\n").filter((l) => /^\| \d+\.\d+\.\d+ \|[^|]+\| met \(doc\) \|/.test(l));
    expect(rows.length).toBe(19);
    const problems: string[] = [];
    let cited = 0;
    for (const row of rows) {
      const id = row.split("|")[1]!.trim();
      const evidence = row.split("|")[4]!;
      let current: string | undefined;
      let found = 0;
      // A document name, then one or more "Section" (optionally "→ Subsection"), in order.
      for (const m of evidence.matchAll(/(README|SECURITY\.md|docs\/[\w-]+\.md|[Tt]his file)|"([^"]+)"(?: → ([A-Z][\w -]*[\w]))?/g)) {
        if (m[1]) {
          current = m[1];
          continue;
        }
        if (!current) continue;
        found++;
        const text = documentText(current);
        if (text === undefined) {
          problems.push(`${id}: no document ${current}`);
          continue;
        }
        const body = section(text, m[2]!);
        if (body === undefined) problems.push(`${id}: ${current} has no section "${m[2]}"`);
        else if (m[3] && !body.includes(`**${m[3]}`) && !body.includes(`# ${m[3]}`)) problems.push(`${id}: ${current} "${m[2]}" has no "${m[3]}"`);
      }
      for (const m of evidence.matchAll(/`([\w.-]+(?:\/[\w.*-]+)*\.(?:ts|proto|json|md))`/g)) {
        const file = m[1]!;
        found++;
        const target = file.includes("*") ? path.dirname(file) : file;
        if (!existsSync(path.join(root, target))) problems.push(`${id}: no file ${file}`);
      }
      if (found === 0) problems.push(`${id}: cites no section and no file`);
      cited += found;
    }
    expect(problems).toEqual([]);
    expect(cited).toBeGreaterThan(rows.length);
  });
});
