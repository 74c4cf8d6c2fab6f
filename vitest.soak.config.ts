import { defineConfig } from "vitest/config";
import { workspaceAliases } from "./vitest.shared.js";

/** `npm run test:soak`: the bounded 60-second soak. */
export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    pool: "forks",
    maxWorkers: 1,
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/soak/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
