/**
 * Issue 13, finding 1: presenting an already-rotated refresh token inside the grace
 * window forked the session (a second live token chain beside the first, so reuse
 * detection never fired). Now a session (refresh family) has at most one usable refresh
 * token: a retry inside the window gets the SAME successor back, any other use of a
 * superseded token revokes the family. Against the real server, on PostgreSQL and PGlite,
 * with a clock that moves only when the test moves it (the grace window is exact).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import fc from "fast-check";
import { Code, ConnectError } from "@connectrpc/connect";
import { AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { hashRefreshToken } from "../../packages/server/src/auth/tokens/refresh.js";
import { createMigrator, migrateToLatest } from "../../packages/server/src/store/db.js";
import { clearStaleSealedSuccessors } from "../../packages/server/src/store/sessions.js";
import { expectCode } from "../helpers/outcome.js";

const PASSWORD = "correct horse battery staple";
const GRACE_SECONDS = 10;

/** A clock that stands still until the test advances it. */
function manualClock() {
  let t = Date.now();
  return {
    now: () => new Date(t),
    advance(seconds: number) {
      t += seconds * 1000;
    },
  };
}

function sidOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as { sid: string }).sid;
}

describe.each(DB_KINDS)("finding 1 on %s", (kind) => {
  const clock = manualClock();
  // Each client from its own (proxied) address, so per-address limits stay out of the way.
  const tessera = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true, clock: clock.now });

  const auth = (token?: string) => tessera.client(AuthService, { token });
  const refresh = async (refreshToken: string) => (await auth().refreshToken({ refreshToken })).tokens!;

  async function newSession() {
    const { tokens } = await tessera.signUp({ password: PASSWORD });
    return { ...tokens, familyId: sidOf(tokens.accessToken) };
  }

  async function familyTokens(familyId: string) {
    return tessera.database.db.kysely.selectFrom("refresh_tokens").selectAll().where("family_id", "=", familyId).execute();
  }
  async function family(familyId: string) {
    return tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("id", "=", familyId).executeTakeFirstOrThrow();
  }

  it("finding 1: a replay inside the grace window gets the same successor, never a second chain (R0→R1, 3 s later R0→R1′)", async () => {
    const r0 = await newSession();
    const r1 = await refresh(r0.refreshToken); // the user
    clock.advance(3);
    const r1b = await refresh(r0.refreshToken); // the attacker, 3 s later
    expect(r1b.refreshToken).toBe(r1.refreshToken);
    expect(r1b.refreshTokenExpiresAt).toEqual(r1.refreshTokenExpiresAt);
    // A fresh access token of the same session.
    expect(r1b.accessToken).not.toBe(r1.accessToken);
    expect(sidOf(r1b.accessToken)).toBe(r0.familyId);
    // One chain: R0 (rotated) and R1 (live), nothing beside them.
    const rows = await familyTokens(r0.familyId);
    expect(rows).toHaveLength(2);
    expect(rows.filter((t) => t.rotated_at === null).map((t) => t.token_hash)).toEqual([hashRefreshToken(r1.refreshToken)]);
    expect((await auth(r1.accessToken).listSessions({})).sessions).toHaveLength(1);

    // The user moves on; the attacker's copy is superseded and, once the window has
    // passed, its use ends the whole session for both.
    const r2 = await refresh(r1.refreshToken);
    clock.advance(GRACE_SECONDS + 1);
    await expectCode(auth().refreshToken({ refreshToken: r1b.refreshToken }), Code.Unauthenticated, "session has been revoked");
    await expectCode(auth().refreshToken({ refreshToken: r2.refreshToken }), Code.Unauthenticated);
    expect((await family(r0.familyId)).revoked_reason).toBe("reuse_detected");
    await tessera.server.app.deps.audit.flush();
    const events = await tessera.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "auth.refresh.reuse_detected")
      .where("actor_user_id", "=", r0.userId)
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]!.metadata).toMatchObject({ session_id: r0.familyId });
  });

  it("finding 1: a superseded token whose successor was already rotated revokes the family, even inside the grace window", async () => {
    const r0 = await newSession();
    const r1 = await refresh(r0.refreshToken);
    const r2 = await refresh(r1.refreshToken);
    clock.advance(1);
    await expectCode(auth().refreshToken({ refreshToken: r0.refreshToken }), Code.Unauthenticated, "session has been revoked");
    await expectCode(auth().refreshToken({ refreshToken: r2.refreshToken }), Code.Unauthenticated);
    expect((await family(r0.familyId)).revoked_reason).toBe("reuse_detected");
    expect(await familyTokens(r0.familyId)).toHaveLength(3);
  });

  it("finding 1: concurrent refreshes of one token all succeed with the same successor and leave one live token", async () => {
    const r0 = await newSession();
    const results = await Promise.all(Array.from({ length: 6 }, () => refresh(r0.refreshToken)));
    expect(new Set(results.map((r) => r.refreshToken)).size).toBe(1);
    expect(new Set(results.map((r) => r.accessToken)).size).toBe(6);
    const rows = await familyTokens(r0.familyId);
    expect(rows).toHaveLength(2);
    expect(rows.filter((t) => t.rotated_at === null)).toHaveLength(1);
    // The chain goes on from the one successor.
    const next = await refresh(results[0]!.refreshToken);
    expect(next.userId).toBe(r0.userId);
    expect((await family(r0.familyId)).revoked_at).toBeNull();
  });

  it("finding 1: any interleaving of refreshes by two holders of one token ends with at most one live chain, and the holder left out gets the family revoked on its next use", async () => {
    type Who = 0 | 1;
    interface Model {
      head: number;
      rotatedAt: number[];
      held: [number, number];
      revoked: boolean;
    }
    type Outcome = { ok: true; index: number } | { ok: false };
    /** What the server must answer when `who` refreshes the token it holds at `now` (ms). */
    function step(m: Model, who: Who, now: number): Outcome {
      if (m.revoked) return { ok: false };
      const k = m.held[who];
      if (k === m.head) {
        m.rotatedAt[k] = now;
        m.head = k + 1;
      } else if (!(k === m.head - 1 && now - m.rotatedAt[k]! <= GRACE_SECONDS * 1000)) {
        m.revoked = true;
        return { ok: false };
      }
      m.held[who] = m.head;
      return { ok: true, index: m.head };
    }

    const op = fc.record({ who: fc.constantFrom<Who | "both">(0, 1, "both"), wait: fc.constantFrom(0, 4, GRACE_SECONDS + 1) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
        const start = await newSession();
        const values: string[] = [start.refreshToken];
        const model: Model = { head: 0, rotatedAt: [], held: [0, 0], revoked: false };

        async function call(who: Who): Promise<{ ok: true; token: string } | { ok: false }> {
          try {
            return { ok: true, token: (await refresh(values[model.held[who]]!)).refreshToken };
          } catch (e) {
            expect(Code[ConnectError.from(e).code]).toBe(Code[Code.Unauthenticated]);
            return { ok: false };
          }
        }
        function check(actual: { ok: true; token: string } | { ok: false }, predicted: Outcome) {
          expect(actual.ok).toBe(predicted.ok);
          if (actual.ok && predicted.ok) {
            if (values[predicted.index] === undefined) values[predicted.index] = actual.token;
            expect(actual.token).toBe(values[predicted.index]);
          }
        }
        async function invariants() {
          const rows = await familyTokens(start.familyId);
          // Exactly the one chain the model knows, with one live (unrotated) token.
          expect(rows).toHaveLength(model.head + 1);
          expect(rows.filter((t) => t.rotated_at === null).map((t) => t.token_hash)).toEqual([hashRefreshToken(values[model.head]!)]);
          expect((await family(start.familyId)).revoked_reason).toBe(model.revoked ? "reuse_detected" : null);
        }

        for (const { who, wait } of [...ops, { who: 0 as const, wait: GRACE_SECONDS + 1 }, { who: 1 as const, wait: 0 }]) {
          clock.advance(wait);
          const now = clock.now().getTime();
          if (who !== "both") {
            const actual = await call(who);
            check(actual, step(model, who, now));
          } else {
            // Concurrent: the answers must be those of one of the two orders.
            const actual = await Promise.all([call(0), call(1)]);
            const orders = (
              [
                [0, 1],
                [1, 0],
              ] as const
            ).map((order) => {
              const m = structuredClone(model);
              const predicted: Outcome[] = [];
              for (const w of order) predicted[w] = step(m, w, now);
              return { m, predicted };
            });
            const fit = orders.find(({ predicted }) => {
              const vals = [...values];
              return actual.every((a, w) => {
                const p = predicted[w]!;
                if (a.ok !== p.ok) return false;
                if (!a.ok || !p.ok) return true;
                vals[p.index] ??= a.token;
                return vals[p.index] === a.token;
              });
            });
            expect(fit, `concurrent answers ${JSON.stringify(actual)} fit neither order ${JSON.stringify(orders.map((o) => o.predicted))}`).toBeDefined();
            check(actual[0], fit!.predicted[0]!);
            check(actual[1], fit!.predicted[1]!);
            Object.assign(model, fit!.m);
          }
          await invariants();
        }
        // The session is listed once while it lives; once revoked it is closed in the
        // database and its own access token is refused (not only at exp).
        if (model.revoked) {
          expect((await family(start.familyId)).revoked_at).not.toBeNull();
          await expectCode(auth(start.accessToken).listSessions({}), Code.Unauthenticated);
        } else expect((await auth(start.accessToken).listSessions({})).sessions).toHaveLength(1);
        // The last two steps (past the window, each holder once): a holder left out of the
        // live chain revoked the family; otherwise both hold its one live token.
        if (!model.revoked) expect(model.held).toEqual([model.head, model.head]);
      }),
      { numRuns: 25 },
    );
  }, 240_000);

  it("finding 1: the database refuses a second live refresh token in one family", async () => {
    const r0 = await newSession();
    const now = clock.now();
    await expect(
      tessera.database.db.kysely
        .insertInto("refresh_tokens")
        .values({
          family_id: r0.familyId,
          token_hash: hashRefreshToken(`tsr_${randomBytes(32).toString("base64url")}`),
          created_at: now,
          expires_at: new Date(now.getTime() + 3600_000),
        })
        .execute(),
    ).rejects.toThrow(/refresh_tokens_one_live_per_family/);
  });

  it("finding 1: the database holds no usable refresh token: hashes, and the newest token sealed under the one it replaced until the grace window has passed", async () => {
    const r0 = await newSession();
    const r1 = await refresh(r0.refreshToken);
    const sealed = (await family(r0.familyId)).sealed_successor;
    expect(sealed).toBeTruthy();
    const dump = JSON.stringify([await family(r0.familyId), await familyTokens(r0.familyId)]);
    for (const t of [r0.refreshToken, r1.refreshToken]) expect(dump).not.toContain(t.slice(4));
    // The hourly sweep clears it once no retry can use it any more.
    await clearStaleSealedSuccessors(tessera.database.db.kysely, new Date(clock.now().getTime() - GRACE_SECONDS * 1000));
    expect((await family(r0.familyId)).sealed_successor).toBe(sealed);
    clock.advance(GRACE_SECONDS + 1);
    expect(await clearStaleSealedSuccessors(tessera.database.db.kysely, new Date(clock.now().getTime() - GRACE_SECONDS * 1000))).toBeGreaterThanOrEqual(1);
    expect((await family(r0.familyId)).sealed_successor).toBeNull();
    expect((await refresh(r1.refreshToken)).userId).toBe(r0.userId);
  });
});

describe.each(DB_KINDS)("finding 1, upgrading a database with sessions forked before the fix, on %s", (kind) => {
  const tessera = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true, server: false });

  it("finding 1: upgrading keeps the newest live token of a forked session; using an older branch revokes the session", async () => {
    const down = await createMigrator(tessera.database.db.kysely).migrateTo("0001-initial");
    if (down.error) throw down.error;
    const k = tessera.database.db.kysely;
    const user = await k
      .insertInto("users")
      .values({ kind: "human", email: "fork@example.com", email_normalized: "fork@example.com" })
      .returning("id")
      .executeTakeFirstOrThrow();
    const now = Date.now();
    const fam = await k
      .insertInto("refresh_families")
      .values({ user_id: user.id, created_at: new Date(now - 60_000), last_used_at: new Date(now - 30_000), expires_at: new Date(now + 86400_000) })
      .returning("id")
      .executeTakeFirstOrThrow();
    const token = () => `tsr_${randomBytes(32).toString("base64url")}`;
    const [r0, older, newer] = [token(), token(), token()];
    const insert = (t: string, createdAgo: number) =>
      k
        .insertInto("refresh_tokens")
        .values({ family_id: fam.id, token_hash: hashRefreshToken(t), created_at: new Date(now - createdAgo), expires_at: new Date(now + 86400_000) })
        .returning("id")
        .executeTakeFirstOrThrow();
    await insert(r0, 60_000);
    const olderRow = await insert(older, 40_000);
    await insert(newer, 30_000);
    await k
      .updateTable("refresh_tokens")
      .set({ rotated_at: new Date(now - 40_000), replaced_by_id: olderRow.id })
      .where("token_hash", "=", hashRefreshToken(r0))
      .execute();

    await migrateToLatest(k);
    const live = await k.selectFrom("refresh_tokens").select("token_hash").where("family_id", "=", fam.id).where("rotated_at", "is", null).execute();
    expect(live.map((t) => t.token_hash)).toEqual([hashRefreshToken(newer)]);

    // Past the grace window of the upgrade: the kept branch refreshes; the other one is reuse.
    const clock = manualClock();
    clock.advance(GRACE_SECONDS + 5);
    const server = await tessera.startServer({ clock: clock.now });
    const c = tessera.clientOf(server, AuthService, { ip: "10.1.2.3" });
    const next = (await c.refreshToken({ refreshToken: newer })).tokens!;
    await expectCode(c.refreshToken({ refreshToken: older }), Code.Unauthenticated, "session has been revoked");
    await expectCode(c.refreshToken({ refreshToken: next.refreshToken }), Code.Unauthenticated);
    const row = await k.selectFrom("refresh_families").select("revoked_reason").where("id", "=", fam.id).executeTakeFirstOrThrow();
    expect(row.revoked_reason).toBe("reuse_detected");
  });
});
