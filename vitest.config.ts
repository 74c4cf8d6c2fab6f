import { defineConfig } from "vitest/config";
import { workspaceAliases } from "./vitest.shared.js";

export default defineConfig({
  resolve: { alias: workspaceAliases },
  test: {
    pool: "forks",
    // Two cores: two files at a time; each file gets its own PostgreSQL database.
    maxWorkers: 2,
    globalSetup: ["./test/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    exclude: ["test/faults/**", "test/soak/**", "node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
