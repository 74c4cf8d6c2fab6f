/**
 * Tessera's own tokens: refresh rotation, reuse detection, the two-tab race,
 * concurrent refreshes, logout, session expiry, JWKS and discovery, key rotation, and
 * the JWT attack cases, with a controllable clock. Includes the "Done when"
 * walkthrough for the password half.
 */
import { describe, expect, it } from "vitest";
import { createHmac, randomBytes } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify, decodeProtectedHeader, type JWK } from "jose";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { rotateKeys } from "../packages/server/src/auth/tokens/signing-keys.js";
import { deleteEndedFamilies } from "../packages/server/src/store/sessions.js";
import { DB_KINDS, useTessera, type TestServer } from "./harness.js";
import { expectCode } from "./helpers/outcome.js";

const PASSWORD = "correct horse battery staple";

function uniqueEmail(): string {
  return `tok-${randomBytes(5).toString("hex")}@example.com`;
}

describe.each(DB_KINDS)("refresh tokens on %s", (kind) => {
  const tessera = useTessera({
    db: kind,
    env: { AUTH_MODE: "full", AUTH_SESSION_IDLE_TIMEOUT: "3600", AUTH_SESSION_MAX_LIFETIME: "7200" },
    forwardedFor: true,
  });
  const { clock } = tessera;
  const clientFor = (server: TestServer, token?: string) => tessera.clientOf(server, AuthService, { token });

  it("Done when: sign up, log in, CheckToken, refresh twice, replay the first refresh token after the grace window: family revoked", async () => {
    const email = uniqueEmail();
    await clientFor(tessera.server).signUp({ email, password: PASSWORD });
    const login = (await clientFor(tessera.server).login({ email, password: PASSWORD })).tokens!;
    const check = await clientFor(tessera.server, login.accessToken).checkToken({});
    expect(check.principalKind).toBe(PrincipalKind.USER);
    expect(check.userId).toBe(login.userId);

    const r1 = (await clientFor(tessera.server).refreshToken({ refreshToken: login.refreshToken })).tokens!;
    const r2 = (await clientFor(tessera.server).refreshToken({ refreshToken: r1.refreshToken })).tokens!;
    expect(new Set([login.refreshToken, r1.refreshToken, r2.refreshToken]).size).toBe(3);
    expect((await clientFor(tessera.server, r2.accessToken).checkToken({})).userId).toBe(login.userId);

    clock.advance(11);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: login.refreshToken }), Code.Unauthenticated);
    // The whole family is gone: even the newest token no longer refreshes.
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: r2.refreshToken }), Code.Unauthenticated);
    // The login's session (its access token's `sid`) is revoked; the sign-up's session is not.
    const sid = (JSON.parse(Buffer.from(login.accessToken.split(".")[1]!, "base64url").toString()) as { sid: string }).sid;
    const fams = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", login.userId).execute();
    expect(fams).toHaveLength(2);
    expect(fams.find((f) => f.id === sid)?.revoked_reason).toBe("reuse_detected");
    expect(fams.find((f) => f.id !== sid)?.revoked_at).toBeNull();
    await tessera.server.app.deps.audit.flush();
    const ev = await tessera.database.db.kysely
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "auth.refresh.reuse_detected")
      .where("actor_user_id", "=", login.userId)
      .execute();
    expect(ev).toHaveLength(1);
    expect(JSON.stringify(ev)).not.toContain(login.refreshToken);
  });

  it("rotates on every refresh and keeps the session's absolute end", async () => {
    const t0 = await tessera.signUp();
    const r1 = (await clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken })).tokens!;
    expect(r1.refreshToken).not.toBe(t0.refreshToken);
    expect(r1.userId).toBe(t0.userId);
    // Refresh-token expiry never goes past the family's absolute expiry (7200 s here).
    const famEnd = (
      await tessera.database.db.kysely.selectFrom("refresh_families").select("expires_at").where("user_id", "=", t0.userId).executeTakeFirstOrThrow()
    ).expires_at;
    const rtEnd = Number(r1.refreshTokenExpiresAt!.seconds) * 1000;
    expect(rtEnd).toBeLessThanOrEqual(famEnd.getTime());
    const rows = await tessera.database.db.kysely.selectFrom("refresh_tokens").selectAll().execute();
    // Stored hashed: the token itself is nowhere in the table.
    expect(JSON.stringify(rows)).not.toContain(t0.refreshToken.slice(4));
  });

  it("lets a second tab refresh the same token within the grace window: it gets the same new token and the session goes on", async () => {
    const t0 = await tessera.signUp();
    const tabA = (await clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken })).tokens!;
    clock.advance(5);
    const tabB = (await clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken })).tokens!;
    // The same successor (one chain), with an access token of its own.
    expect(tabB.refreshToken).toBe(tabA.refreshToken);
    expect(tabB.accessToken).not.toBe(tabA.accessToken);
    // Both tabs keep working: the second refresh of the shared token is again a retry.
    const a2 = (await clientFor(tessera.server).refreshToken({ refreshToken: tabA.refreshToken })).tokens!;
    const b2 = (await clientFor(tessera.server).refreshToken({ refreshToken: tabB.refreshToken })).tokens!;
    expect(b2.refreshToken).toBe(a2.refreshToken);
    expect((await clientFor(tessera.server, a2.accessToken).checkToken({})).userId).toBe(t0.userId);
    expect((await clientFor(tessera.server, b2.accessToken).checkToken({})).userId).toBe(t0.userId);
    const fam = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", t0.userId).executeTakeFirstOrThrow();
    expect(fam.revoked_at).toBeNull();
  });

  it("keeps invariants under concurrent refreshes of one token", async () => {
    const t0 = await tessera.signUp();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken })));
    const ok = results
      .filter((r) => r.status === "fulfilled")
      .map((r) => (r as PromiseFulfilledResult<{ tokens?: { refreshToken: string } }>).value.tokens!.refreshToken);
    // All within the grace window: all succeed with the one successor, session alive.
    expect(ok).toHaveLength(6);
    expect(new Set(ok).size).toBe(1);
    const fam = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", t0.userId).executeTakeFirstOrThrow();
    expect(fam.revoked_at).toBeNull();
    const tokens = await tessera.database.db.kysely.selectFrom("refresh_tokens").selectAll().where("family_id", "=", fam.id).execute();
    expect(tokens).toHaveLength(2);
    const original = tokens.filter((t) => t.rotated_at !== null);
    expect(original).toHaveLength(1);
    expect(tokens.map((t) => t.id)).toContain(original[0]!.replaced_by_id);
    // After the window, replaying the original still revokes everything.
    clock.advance(11);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken }), Code.Unauthenticated);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: ok[0]! }), Code.Unauthenticated);
  });

  it("logout revokes the family; logging out twice or with garbage is harmless", async () => {
    const t0 = await tessera.signUp();
    await clientFor(tessera.server).logout({ refreshToken: t0.refreshToken });
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: t0.refreshToken }), Code.Unauthenticated);
    await clientFor(tessera.server).logout({ refreshToken: t0.refreshToken });
    await clientFor(tessera.server).logout({ refreshToken: "garbage" });
    const fam = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().where("user_id", "=", t0.userId).executeTakeFirstOrThrow();
    expect(fam.revoked_reason).toBe("logout");
    await tessera.server.app.deps.audit.flush();
    const ev = await tessera.database.db.kysely
      .selectFrom("audit_events")
      .select("action")
      .where("actor_user_id", "=", t0.userId)
      .where("action", "=", "auth.logout.success")
      .execute();
    expect(ev).toHaveLength(1);
  });

  it("ends sessions after the idle timeout and at the absolute lifetime", async () => {
    const idle = await tessera.signUp();
    clock.advance(3601);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: idle.refreshToken }), Code.Unauthenticated);

    const busy = await tessera.signUp();
    let rt = busy.refreshToken;
    // Refresh every 30 minutes: never idle, but the session ends 2 hours after login.
    for (let i = 0; i < 3; i++) {
      clock.advance(1800);
      rt = (await clientFor(tessera.server).refreshToken({ refreshToken: rt })).tokens!.refreshToken;
    }
    clock.advance(1801);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: rt }), Code.Unauthenticated);
  });

  it("rejects an access token sent to RefreshToken and a refresh token sent as a bearer", async () => {
    const t0 = await tessera.signUp();
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: t0.accessToken }), Code.Unauthenticated);
    await expectCode(clientFor(tessera.server, t0.refreshToken).checkToken({}), Code.Unauthenticated);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: "" }), Code.Unauthenticated);
    await expectCode(clientFor(tessera.server).refreshToken({ refreshToken: `tsr_${"A".repeat(43)}` }), Code.Unauthenticated);
  });

  it("deletes ended sessions and their tokens (housekeeping), keeping live ones", async () => {
    const live = await tessera.signUp();
    const before = new Date(clock.now().getTime() + 1000);
    const n = await deleteEndedFamilies(tessera.database.db.kysely, before);
    expect(n).toBeGreaterThan(0);
    const left = await tessera.database.db.kysely.selectFrom("refresh_families").selectAll().execute();
    for (const f of left) {
      expect(f.revoked_at).toBeNull();
      expect(f.expires_at.getTime()).toBeGreaterThanOrEqual(before.getTime());
    }
    expect((await clientFor(tessera.server).refreshToken({ refreshToken: live.refreshToken })).tokens?.userId).toBe(live.userId);
  });
});

describe("access tokens, JWKS and key rotation", () => {
  const tessera = useTessera({ env: { AUTH_MODE: "full" }, forwardedFor: true });
  const { clock } = tessera;
  const clientFor = (server: TestServer, token?: string) => tessera.clientOf(server, AuthService, { token });

  async function ourKey() {
    const row = await tessera.database.db.kysely.selectFrom("signing_keys").selectAll().where("retired_at", "is", null).executeTakeFirstOrThrow();
    return { kid: row.id, privateKey: await importJWK(row.private_jwk as JWK, "ES256"), publicJwk: row.public_jwk as JWK };
  }

  async function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}, key?: { kid: string; privateKey: CryptoKey | Uint8Array }) {
    const k = key ?? (await ourKey());
    const now = Math.floor(clock.now().getTime() / 1000);
    return new SignJWT({
      iss: tessera.server.app.config.publicUrl,
      aud: tessera.server.app.config.tokenAudience,
      iat: now,
      exp: now + 600,
      jti: randomBytes(8).toString("hex"),
      ...claims,
    })
      .setProtectedHeader({ alg: "ES256", kid: k.kid, typ: "at+jwt", ...header })
      .sign(k.privateKey);
  }

  it("issues RFC 9068 access tokens with the documented header and claims", async () => {
    const t = await tessera.signUp();
    const header = decodeProtectedHeader(t.accessToken);
    expect(header).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    expect(typeof header.kid).toBe("string");
    const payload = JSON.parse(Buffer.from(t.accessToken.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({
      iss: tessera.server.app.config.publicUrl,
      aud: tessera.server.app.config.tokenAudience,
      sub: t.userId,
      client_id: "tessera",
    });
    expect(typeof payload.jti).toBe("string");
    expect(typeof payload.sid).toBe("string");
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);
  });

  it("serves JWKS and discovery so other services verify tokens offline", async () => {
    const disc = await fetch(`${tessera.server.baseUrl}/.well-known/openid-configuration`);
    expect(disc.status).toBe(200);
    const doc = (await disc.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(tessera.server.app.config.publicUrl);
    expect(doc.jwks_uri).toBe(`${tessera.server.app.config.publicUrl}/.well-known/jwks.json`);
    const jwksRes = await fetch(`${tessera.server.baseUrl}/.well-known/jwks.json`);
    expect(jwksRes.headers.get("cache-control")).toMatch(/max-age=300/);
    const jwks = (await jwksRes.json()) as { keys: JWK[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) expect(k.d).toBeUndefined();

    const t = await tessera.signUp();
    const remote = createRemoteJWKSet(new URL(`${tessera.server.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(t.accessToken, remote, {
      issuer: tessera.server.app.config.publicUrl,
      audience: tessera.server.app.config.tokenAudience,
      algorithms: ["ES256"],
      typ: "at+jwt",
      currentDate: clock.now(),
    });
    expect(payload.sub).toBe(t.userId);
  });

  it("accepts a well-formed token signed with its key (control case for the attacks)", async () => {
    const t = await tessera.signUp();
    const token = await forge({ sub: t.userId });
    expect((await clientFor(tessera.server, token).checkToken({})).userId).toBe(t.userId);
  });

  it("rejects every JWT attack with Unauthenticated", async () => {
    const t = await tessera.signUp();
    const key = await ourKey();
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(clock.now().getTime() / 1000);
    const claims = {
      iss: tessera.server.app.config.publicUrl,
      aud: tessera.server.app.config.tokenAudience,
      sub: t.userId,
      iat: now,
      exp: now + 600,
      jti: "x1",
    };
    const attacker = await generateKeyPair("ES256", { extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const [h, p, s] = t.accessToken.split(".") as [string, string, string];
    const tamperedPayload = { ...(JSON.parse(Buffer.from(p, "base64url").toString()) as object), sub: "00000000-0000-0000-0000-000000000001" };
    const hsSecret = Buffer.from(JSON.stringify(key.publicJwk));
    const hsHeader = b64({ alg: "HS256", kid: key.kid, typ: "at+jwt" });
    const hsBody = b64(claims);
    const hsSig = createHmac("sha256", hsSecret).update(`${hsHeader}.${hsBody}`).digest("base64url");

    const cases: Record<string, string> = {
      "alg none": `${b64({ alg: "none", typ: "at+jwt", kid: key.kid })}.${b64(claims)}.`,
      "HS256 with the public key as secret": `${hsHeader}.${hsBody}.${hsSig}`,
      "tampered payload": `${h}.${b64(tamperedPayload)}.${s}`,
      "stripped signature": `${h}.${p}.`,
      expired: await forge({ sub: t.userId, iat: now - 2000, exp: now - 1000 }),
      "not yet valid": await forge({ sub: t.userId, nbf: now + 3600 }),
      "wrong aud": await forge({ sub: t.userId, aud: "https://other.example" }),
      "wrong iss": await forge({ sub: t.userId, iss: "https://evil.example" }),
      "missing sub": await forge({}),
      "non-UUID sub": await forge({ sub: "admin" }),
      "wrong typ": await forge({ sub: t.userId }, { typ: "JWT" }),
      "no typ": await forge({ sub: t.userId }, { typ: undefined }),
      "embedded jwk header": await forge(
        { sub: t.userId },
        { jwk: attackerJwk, kid: "attacker-key-0000001" },
        { kid: "attacker-key-0000001", privateKey: attacker.privateKey },
      ),
      "jku header": await forge(
        { sub: t.userId },
        { jku: "http://127.0.0.1:1/jwks.json", kid: "attacker-key-0000002" },
        { kid: "attacker-key-0000002", privateKey: attacker.privateKey },
      ),
      "x5u header": await forge(
        { sub: t.userId },
        { x5u: "http://127.0.0.1:1/cert.pem", kid: "attacker-key-0000003" },
        { kid: "attacker-key-0000003", privateKey: attacker.privateKey },
      ),
      "our kid, attacker's signature": await forge({ sub: t.userId }, {}, { kid: key.kid, privateKey: attacker.privateKey }),
      "kid path traversal": await forge({ sub: t.userId }, { kid: "../../../../etc/passwd" }, { kid: "x", privateKey: key.privateKey }),
      "kid SQL": await forge({ sub: t.userId }, { kid: "x' OR '1'='1" }, { kid: "x", privateKey: key.privateKey }),
      "no kid": await forge({ sub: t.userId }, { kid: undefined }),
      "unknown user": await forge({ sub: "9f0c1e9e-1111-4222-8333-444455556666" }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await fetch(`${tessera.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
      expect(res.status, name).toBe(401);
      expect(((await res.json()) as { code: string }).code, name).toBe("unauthenticated");
    }
    // The key table is untouched by the kid attempts.
    expect(await tessera.database.db.kysely.selectFrom("signing_keys").select("id").execute()).toHaveLength(1);
  });

  it("stops accepting a disabled user's access token within 30 s, without a database query per request", async () => {
    const t = await tessera.signUp();
    expect((await clientFor(tessera.server, t.accessToken).checkToken({})).userId).toBe(t.userId);
    await tessera.database.db.kysely.updateTable("users").set({ disabled_at: new Date() }).where("id", "=", t.userId).execute();
    // Documented: the cached status may hold for up to 30 s...
    clock.advance(31);
    await expectCode(clientFor(tessera.server, t.accessToken).checkToken({}), Code.Unauthenticated);
    await tessera.database.db.kysely.updateTable("users").set({ disabled_at: null }).where("id", "=", t.userId).execute();
    clock.advance(31);
    expect((await clientFor(tessera.server, t.accessToken).checkToken({})).userId).toBe(t.userId);
  });

  it("accepts Tessera tokens over gRPC and gRPC-web too", async () => {
    const t = await tessera.signUp();
    let rt = t.refreshToken;
    for (const protocol of ["grpc", "grpc-web"] as const) {
      const c = createClient(AuthService, tessera.server.transport(protocol, { authorization: `Bearer ${t.accessToken}`, "x-forwarded-for": "10.200.0.1" }));
      expect((await c.checkToken({})).userId).toBe(t.userId);
      const anon = createClient(AuthService, tessera.server.transport(protocol, { "x-forwarded-for": "10.200.0.2" }));
      const r = (await anon.refreshToken({ refreshToken: rt })).tokens!;
      expect(r.userId).toBe(t.userId);
      rt = r.refreshToken;
    }
  });

  it("rejects tokens once expired (controllable clock) even when cached", async () => {
    const t = await tessera.signUp();
    await clientFor(tessera.server, t.accessToken).checkToken({});
    clock.advance(900 + 61);
    await expectCode(clientFor(tessera.server, t.accessToken).checkToken({}), Code.Unauthenticated);
  });

  it("rotates keys: old tokens stay valid until expiry and the retired key stays published", async () => {
    const before = await tessera.signUp();
    const oldKid = decodeProtectedHeader(before.accessToken).kid!;
    const rotated = await rotateKeys(tessera.database.db.kysely, clock.now(), tessera.server.app.config.accessTokenLifetimeSeconds);
    expect(rotated.retired).toEqual([oldKid]);

    // A second server (as after a restart, or another replica) signs with the new key.
    const second = await tessera.startServer();
    try {
      const after = await tessera.signUp({ server: second });
      expect(decodeProtectedHeader(after.accessToken).kid).toBe(rotated.kid);
      // Old token on the new server, new token on the old server (unknown kid -> reload).
      expect((await clientFor(second, before.accessToken).checkToken({})).userId).toBe(before.userId);
      // (Unknown-kid reloads are rate-limited to one per 5 s; the attack test above may have used it.)
      await expect
        .poll(
          async () =>
            (
              await clientFor(tessera.server, after.accessToken)
                .checkToken({})
                .catch(() => undefined)
            )?.userId,
          { timeout: 7000, interval: 500 },
        )
        .toBe(after.userId);
      const jwks = (await (await fetch(`${second.baseUrl}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual([oldKid, rotated.kid].sort());
    } finally {
      await second.close();
    }
    // Once no token signed by the old key can be valid, it is no longer published.
    clock.advance((rotated.publishUntil.getTime() - clock.now().getTime()) / 1000 + 1);
    const third = await tessera.startServer();
    try {
      const jwks = (await (await fetch(`${third.baseUrl}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
      expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.kid]);
      await expectCode(clientFor(third, before.accessToken).checkToken({}), Code.Unauthenticated);
    } finally {
      await third.close();
    }
  });
});
