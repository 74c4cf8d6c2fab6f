import { defineConfig } from "vitest/config";
import { workspaceAliases } from "./vitest.shared.js";

/** `npm run test:faults`: fault-injection tests (their own PostgreSQL servers, killed processes). */
export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    pool: "forks",
    maxWorkers: 1,
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
