/**
 * The email-token sweep (issue 18) on PostgreSQL and PGlite, called directly with the
 * harness's clock: it deletes expired tokens at once and used ones a day after their
 * use, leaves live ones alone, and deletes at most a batch per statement.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createEmailTokenSweep } from "../packages/server/src/auth/email-links/token-sweep.js";
import { deleteEndedEmailTokens } from "../packages/server/src/store/email-tokens.js";
import { DB_KINDS, useTessera } from "./harness.js";

const HOUR = 3600_000;

describe.each(DB_KINDS)("email-token sweep on %s", (kind) => {
  const t = useTessera({ db: kind, env: { AUTH_MODE: "full" }, forwardedFor: true });

  /** Inserts a token of `userId` with times relative to the test clock (hours); returns its id. */
  async function token(userId: string, h: { created: number; expires: number; used?: number }): Promise<string> {
    const at = (hours: number) => new Date(t.clock.now().getTime() + hours * HOUR);
    const row = await t.database.db.kysely
      .insertInto("email_tokens")
      .values({
        user_id: userId,
        purpose: "password_reset",
        token_hash: randomBytes(32).toString("hex"),
        email_normalized: "sweep@example.com",
        created_at: at(h.created),
        expires_at: at(h.expires),
        used_at: h.used === undefined ? null : at(h.used),
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return row.id;
  }

  const idsOf = async (userId: string) =>
    (await t.database.db.kysely.selectFrom("email_tokens").select("id").where("user_id", "=", userId).execute()).map((r) => r.id).sort();

  it("deletes expired tokens at once and used ones a day after their use, and keeps live ones", async () => {
    const user = await t.signUp();
    // Sign-up's own verification token (live for 24 h) is stored by the mail worker.
    await t.server.app.mailer.idle();
    const signUpTokens = await idsOf(user.userId);
    expect(signUpTokens).toHaveLength(1);
    const live = await token(user.userId, { created: -1, expires: 1 });
    const usedRecently = await token(user.userId, { created: -2, expires: 22, used: -1 });
    await token(user.userId, { created: -72, expires: 1, used: -25 }); // used over a day ago (a long-lived link)
    await token(user.userId, { created: -1, expires: -0.01 }); // expired, never used
    await token(user.userId, { created: -2, expires: -1, used: -1.5 }); // used, then expired

    // The server's own clock is the harness's: the sweep sees the same "now" as the rows above.
    const sweep = createEmailTokenSweep(t.server.app.deps);
    expect(await sweep.sweep()).toBe(3);
    expect(await idsOf(user.userId)).toEqual([...signUpTokens, live, usedRecently].sort());
    expect(await sweep.sweep()).toBe(0);

    // Two hours on: the live one has expired; the used one is still kept (used 3 h ago, valid till +22 h).
    t.clock.advance(2 * 3600);
    expect(await sweep.sweep()).toBe(1);
    expect(await idsOf(user.userId)).toEqual([...signUpTokens, usedRecently].sort());
    // A day on: everything has ended.
    t.clock.advance(24 * 3600);
    expect(await sweep.sweep()).toBe(2);
    expect(await idsOf(user.userId)).toEqual([]);
  });

  it("deletes at most a batch per statement", async () => {
    const user = await t.signUp();
    await t.server.app.mailer.idle();
    for (let i = 0; i < 3; i++) await token(user.userId, { created: -2, expires: -1 });
    for (let i = 0; i < 3; i++) await token(user.userId, { created: -72, expires: 100, used: -48 });
    const now = t.clock.now();
    const dayAgo = new Date(now.getTime() - 24 * HOUR);
    expect(await deleteEndedEmailTokens(t.database.db.kysely, now, dayAgo, 2)).toBe(4);
    expect(await deleteEndedEmailTokens(t.database.db.kysely, now, dayAgo, 2)).toBe(2);
    expect(await deleteEndedEmailTokens(t.database.db.kysely, now, dayAgo, 2)).toBe(0);
    // Only sign-up's live verification token is left.
    expect(await idsOf(user.userId)).toHaveLength(1);
  });
});
