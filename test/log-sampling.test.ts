/**
 * LOG_RPC_SAMPLE: only a share of the successful RPCs' lines is written (each carrying
 * `sample_ratio`), evenly spread; every failed RPC's line is written; unset, every line,
 * as before. On a real server, both databases.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { loadConfig } from "../packages/server/src/config/config.js";
import { okSampler } from "../packages/server/src/server/observe.js";
import { DB_KINDS, useTessera } from "./harness.js";

type Line = { msg?: string; procedure?: string; code?: string; sample_ratio?: number };

function rpcLines(logs: string[], procedure: string): Line[] {
  return logs.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === "rpc" && l.procedure === procedure);
}

describe("okSampler", () => {
  it("writes exactly the given share, evenly spread, the first line included", () => {
    const picks = (ratio: number, n: number) => {
      const next = okSampler(ratio);
      return Array.from({ length: n }, () => next());
    };
    const quarter = picks(0.25, 100);
    expect(quarter.filter(Boolean)).toHaveLength(25);
    expect(quarter.slice(0, 8)).toEqual([true, false, false, false, true, false, false, false]);
    expect(picks(0.3, 100).filter(Boolean)).toHaveLength(30);
    expect(picks(1, 50).every(Boolean)).toBe(true);
    expect(picks(0, 50).some(Boolean)).toBe(false);
    // No drift over a long run (a float running sum of 0.1 loses a line every few hundred).
    expect(picks(0.1, 1_000_000).filter(Boolean)).toHaveLength(100_000);
  });

  it("rejects a LOG_RPC_SAMPLE that is not a share", () => {
    expect(loadConfig({ LOG_RPC_SAMPLE: "0.1" }).logRpcSample).toBe(0.1);
    expect(loadConfig({}).logRpcSample).toBe(1);
    for (const bad of ["1.5", "-0.1", "ten"]) expect(() => loadConfig({ LOG_RPC_SAMPLE: bad })).toThrow(/LOG_RPC_SAMPLE/);
  });
});

describe.each(DB_KINDS)("per-RPC lines on %s", (kind) => {
  const t = useTessera({ db: kind, server: false });

  async function calls(env: Record<string, string>, ok: number, failed: number) {
    const server = await t.startServer({ env: { AUTH_MODE: "full", ...env } });
    for (let i = 0; i < ok; i++) await server.client(AuthService).getAuthConfig({});
    for (let i = 0; i < failed; i++) {
      const err = await server
        .client(AuthService, { token: "garbage.token.value" })
        .checkToken({})
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code).toBe(Code.Unauthenticated);
    }
    const logs = server.logs;
    return { ok: rpcLines(logs, "tessera.v1.AuthService/GetAuthConfig"), failed: rpcLines(logs, "tessera.v1.AuthService/CheckToken") };
  }

  it("with LOG_RPC_SAMPLE=0.25 writes one successful RPC line in four, with its sample_ratio, and every failed one", async () => {
    const lines = await calls({ LOG_RPC_SAMPLE: "0.25" }, 20, 6);
    expect(lines.ok).toHaveLength(5);
    expect(lines.ok.every((l) => l.code === "ok" && l.sample_ratio === 0.25)).toBe(true);
    expect(lines.failed).toHaveLength(6);
    expect(lines.failed.every((l) => l.code === "unauthenticated" && l.sample_ratio === undefined)).toBe(true);
  });

  it("samples each procedure on its own: a client alternating two procedures gets lines of both", async () => {
    // AUTH_MODE=none: CheckToken with any bearer answers the anonymous user (ok).
    const server = await t.startServer({ env: { AUTH_MODE: "none", LOG_RPC_SAMPLE: "0.5" } });
    for (let i = 0; i < 10; i++) {
      await server.client(AuthService).getAuthConfig({});
      await server.client(AuthService, { token: "garbage.token.value" }).checkToken({});
    }
    const logs = server.logs;
    expect(rpcLines(logs, "tessera.v1.AuthService/GetAuthConfig")).toHaveLength(5);
    expect(rpcLines(logs, "tessera.v1.AuthService/CheckToken")).toHaveLength(5);
  });

  it("without LOG_RPC_SAMPLE writes every RPC's line, none with a sample_ratio", async () => {
    const lines = await calls({}, 7, 3);
    expect(lines.ok).toHaveLength(7);
    expect(lines.failed).toHaveLength(3);
    expect([...lines.ok, ...lines.failed].every((l) => l.sample_ratio === undefined)).toBe(true);
  });
});
