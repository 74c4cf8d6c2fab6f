/**
 * Code blocks of the repository's Markdown pages, as the tests under test/docs/ run them:
 * the text exactly as written, so the docs cannot drift from what the tests run.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A fenced code block of a page. */
export interface CodeBlock {
  /** The page, relative to the repository root. */
  page: string;
  /** The fence's language (`sh`, `ts`, `js`, ...). */
  lang: string;
  /** The block's text, without the fences. */
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Why no test runs it, from `<!-- not run by test/docs/...: reason -->` on the line before. */
  notRun?: string;
}

/** Every fenced block of `page` (relative to the repository root), in order. */
export function codeBlocks(page: string): CodeBlock[] {
  const lines = readFileSync(path.join(ROOT, page), "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${page}:${i + 1}: a code block that is never closed`);
    const marker = /^<!-- not run by test\/docs\/[\w.-]+: (.+) -->$/.exec(lines[i - 1] ?? "");
    blocks.push({ page, lang: open[1]!, text: lines.slice(i + 1, end).join("\n"), line: i + 1, notRun: marker?.[1] });
    i = end;
  }
  return blocks;
}
