/**
 * What every vitest configuration shares: tests import the workspace packages by their
 * names (`@tessera/sdk`, ...) and get their TypeScript sources, as `tsconfig.json`'s
 * `paths` do for the type checker. Processes the tests spawn run the built packages.
 */
import path from "node:path";
import type { AliasOptions } from "vite";

const pkg = (p: string) => path.resolve(import.meta.dirname, "packages", p);

/** Package names to their sources. */
export const workspaceAliases: AliasOptions = [
  { find: /^@tessera\/sdk$/, replacement: pkg("sdk/src/index.ts") },
  { find: /^@tessera\/sdk\/node$/, replacement: pkg("sdk/src/node.ts") },
  { find: /^@tessera\/sdk\/proto$/, replacement: pkg("sdk/src/proto.ts") },
  { find: /^@tessera\/connect$/, replacement: pkg("connect/src/index.ts") },
  { find: /^@tessera\/cli$/, replacement: pkg("cli/src/index.ts") },
  { find: /^tessera\/commands$/, replacement: pkg("server/src/commands/index.ts") },
];
