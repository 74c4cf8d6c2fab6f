/**
 * Finding 7 (issue 13): GetAuthorizeUrl was public, unlimited, and wrote a login
 * transaction per call; and every refused request wrote its own rate-limit audit event,
 * so a flood flooded the audit table. Now GetAuthorizeUrl is limited per client network
 * and refusals are aggregated: one `ratelimit.exceeded.failure` per procedure, limit and
 * subject per window, carrying the count.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "../harness.js";
import { callAs, pollUntil } from "../helpers/abuse.js";
import { testClock } from "../helpers/clock.js";
import { pkce, serverEnvFor } from "../helpers/oidc-provider.js";
import type { TestServer } from "../helpers/server.js";

describe("finding 7", () => {
  const provider = useTestProvider();
  const t = useTessera({ forwardedFor: true, server: false });

  const authorize = (server: TestServer, ip: string) =>
    callAs(
      server,
      "GetAuthorizeUrl",
      { redirectUri: "http://127.0.0.1/cb", state: randomBytes(16).toString("base64url"), codeChallenge: pkce().challenge },
      ip,
    );
  const transactions = async () =>
    Number(
      (
        await t.database.db.kysely
          .selectFrom("login_transactions")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const refusals = (procedure: string) =>
    t.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "ratelimit.exceeded.failure")
      .where(({ ref, eb }) => eb(eb.fn("jsonb_extract_path_text", [ref("metadata"), eb.val("procedure")]), "=", procedure))
      .orderBy("created_at")
      .execute();

  it("finding 7: GetAuthorizeUrl is limited to 60 a minute per client network, so a flood cannot write a row per call", async () => {
    const server = await t.startServer({ env: serverEnvFor(provider, "http://127.0.0.1/cb") });
    try {
      const start = await transactions();
      const codes: string[] = [];
      for (let i = 0; i < 70; i++) codes.push((await authorize(server, "198.51.100.7")).code);
      expect(codes.slice(0, 60)).toEqual(Array(60).fill("ok"));
      expect(codes.slice(60)).toEqual(Array(10).fill("resource_exhausted"));
      expect((await transactions()) - start).toBe(60);
      // Another network is not affected.
      expect((await authorize(server, "198.51.100.8")).code).toBe("ok");
    } finally {
      await server.close();
    }
  });

  it("finding 7: a flood over a limit writes one ratelimit.exceeded.failure per procedure, limit and subject per window, carrying the count", {
    timeout: 60_000,
  }, async () => {
    const clock = testClock();
    const server = await t.startServer({ env: serverEnvFor(provider, "http://127.0.0.1/cb"), clock: clock.now });
    // ExchangeCode (10 a minute per network) with a made-up code: refused cheaply either way.
    const exchange = (ip: string) =>
      callAs(server, "ExchangeCode", { code: "made-up", redirectUri: "http://127.0.0.1/cb", codeVerifier: "v".repeat(43), state: "s" }, ip);
    const ip = "198.51.100.9";
    let closed = false;
    try {
      // 10 allowed, then 200 refused in the same minute.
      for (let i = 0; i < 210; i++) await exchange(ip);
      // A second subject over the same limit gets its own event.
      for (let i = 0; i < 15; i++) await exchange("198.51.100.10");
      // The window ends: its events are written without waiting for shutdown.
      clock.advance(61);
      const written = await pollUntil(async () => {
        await server.app.deps.audit.flush();
        return (await refusals("AuthService/ExchangeCode")).length >= 2;
      }, 10_000);
      expect(written, "the aggregated events were written within 10 s of the window's end").toBe(true);
      // The next window: 10 allowed again, then 5 refused, written at shutdown.
      for (let i = 0; i < 15; i++) await exchange(ip);
      await server.close();
      closed = true;
      // Sorted by client IP, then count (rows written in one batch share a created_at).
      const events = (await refusals("AuthService/ExchangeCode"))
        .map((e) => ({ ip: e.client_ip, metadata: e.metadata as Record<string, unknown> }))
        .sort((a, b) => `${a.ip}:${a.metadata.refused}`.localeCompare(`${b.ip}:${b.metadata.refused}`));
      expect(events).toEqual([
        { ip: "198.51.100.10", metadata: expect.objectContaining({ refused: 5 }) },
        {
          ip,
          metadata: expect.objectContaining({ procedure: "AuthService/ExchangeCode", limit_by: "ip", limit: 10, window_s: 60, refused: 200, network: ip }),
        },
        { ip, metadata: expect.objectContaining({ refused: 5 }) },
      ]);
    } finally {
      if (!closed) await server.close();
    }
  });
});
