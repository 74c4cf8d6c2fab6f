/**
 * Hostile input: arbitrary bearer strings never get anything but Unauthenticated and
 * never reach the database; every string field of every RPC, filled with SQL
 * metacharacters, 1 MB strings, invalid UTF-8, NUL bytes, right-to-left marks and
 * look-alike Unicode, gets a clean client error or a correct result, never Internal.
 */
import { describe, expect, it } from "vitest";
import { useTessera } from "./harness.js";
import fc from "fast-check";
import { ScalarType, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { parseBearer, MAX_BEARER_LENGTH } from "../packages/server/src/auth/request/bearer.js";
import { TableQueryCounter } from "./helpers/db.js";

const b64url = (s: string) => Buffer.from(s).toString("base64url");

/** Printable header-safe strings, and strings shaped like each kind of credential. */
const bearerArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."ABCabc019-._~+/=tsk_ !\"#$%&'()*,:;<>?@[\\]^`{|}".split("")), maxLength: 200 }),
  fc.stringMatching(/^tsk_[0-9A-Za-z]{30,45}$/),
  fc.tuple(fc.json(), fc.json(), fc.string({ maxLength: 60 })).map(([h, p, s]) => `${b64url(h)}.${b64url(p)}.${b64url(s)}`),
  fc
    .tuple(fc.constantFrom("none", "HS256", "RS256", "ES256", "EdDSA"), fc.string({ maxLength: 30 }))
    .map(
      ([alg, sub]) =>
        `${b64url(JSON.stringify({ alg, typ: "at+jwt", kid: "../../etc/passwd' OR 1=1 --" }))}.${b64url(JSON.stringify({ sub, iss: "x", aud: "y", exp: 9999999999 }))}.`,
    ),
);

describe("bearer parsing (property)", () => {
  it("never throws and accepts only `Bearer <b64token>` with exactly one space", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.uint8Array().map((b) => Buffer.from(b).toString("latin1")),
        ),
        (s) => {
          const r = parseBearer(s);
          if (r.ok) {
            expect(/^bearer [A-Za-z0-9\-._~+/]+=*$/i.test(s)).toBe(true);
            expect(r.token.length).toBeLessThanOrEqual(MAX_BEARER_LENGTH);
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(parseBearer("bEaReR abc")).toEqual({ ok: true, token: "abc" });
    expect(parseBearer("Bearer  abc").ok).toBe(false);
    expect(parseBearer("Bearer abc def").ok).toBe(false);
    expect(parseBearer("Basic abc").ok).toBe(false);
    expect(parseBearer(undefined)).toEqual({ ok: false, reason: "missing" });
  });
});

describe("hostile bearer tokens over a real server", () => {
  // The sweep of ended key-rotation overlaps probes api_keys every second on its own; any
  // lookup of a presented credential names a hash column, which that probe does not.
  const overlapSweepProbe = (q: string) => q.includes('"previous_expires_at"') && !/"\w*(key_hash|token_hash)"/.test(q);
  const counter = new TableQueryCounter(["api_keys", "users", "identities", "refresh_tokens", "refresh_families"], overlapSweepProbe);
  const t = useTessera({ env: { AUTH_MODE: "full" }, plugins: [counter] });

  it("answers Unauthenticated to arbitrary bearers without querying credential tables", async () => {
    const before = counter.count;
    await fc.assert(
      fc.asyncProperty(bearerArb, async (token) => {
        const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: "{}",
        });
        const body = (await res.json()) as { code?: string };
        expect(res.status).toBe(401);
        expect(body.code).toBe("unauthenticated");
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="tessera"/);
      }),
      { numRuns: 300 },
    );
    expect(counter.count - before).toBe(0);
  });

  it("rejects a 100 KB token at the HTTP layer and keeps serving", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${"a".repeat(100 * 1024)}` },
      body: "{}",
    });
    expect(res.status).toBe(431);
    const ok = await fetch(`${t.server.baseUrl}/health`);
    expect(ok.status).toBe(200);
  });

  it("rejects a 15 KB token (under the header limit) with Unauthenticated", async () => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${"a".repeat(15 * 1024)}` },
      body: "{}",
    });
    expect(res.status).toBe(401);
  });
});

/** Hostile values for string fields. */
const HOSTILE: Record<string, string> = {
  sql: "' OR 1=1; DROP TABLE users; --",
  sqlQuote: "a'b\"c\\d;`e`",
  megabyte: "x".repeat(1_000_000),
  nul: "abc\u0000def",
  invalidUtf8: Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28]).toString("latin1"),
  loneSurrogate: "ab\ud800cd",
  rtl: "\u202Emoc.elpmaxe@nimda",
  lookalikeEmail: "ＡＤＭＩＮ@ｅｘａｍｐｌｅ.com",
  fullwidthUuid: "０００００００-0000-0000-0000-000000000002",
  percent: "%00%27%22",
  pathTraversal: "../../../../etc/passwd",
  emptyish: " \t\n ",
};

/** Codes a hostile input may produce: a clean client error, or success. */
const CLIENT_CODES = new Set([
  "ok",
  "invalid_argument",
  "not_found",
  "permission_denied",
  "unauthenticated",
  "already_exists",
  "failed_precondition",
  "out_of_range",
]);

function stringFields(m: DescMessage): string[] {
  return m.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING).map((f) => f.jsonName);
}

describe("hostile values in every string field of every RPC", () => {
  // Anonymous admin: handlers run. Each request comes from its own address so the abuse
  // limits (tested elsewhere) don't mask handler behaviour.
  const t = useTessera({ env: { AUTH_MODE: "none" }, forwardedFor: true });

  const services: DescService[] = [AuthService, ApiKeyService, UserAccountService];
  const cases = services.flatMap((s) =>
    s.methods.flatMap((m) => stringFields(m.input).flatMap((field) => Object.keys(HOSTILE).map((value) => [`${s.name}/${m.name}`, field, value] as const))),
  );

  it.each(cases)("%s %s=%s answers a client error or a correct result", async (path, field, valueName) => {
    const res = await fetch(`${t.server.baseUrl}/tessera.v1.${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": t.freshIp() },
      body: JSON.stringify({ [field]: HOSTILE[valueName] }),
    });
    const text = await res.text();
    const code = res.status === 200 ? "ok" : ((JSON.parse(text) as { code?: string }).code ?? `http_${res.status}`);
    expect(CLIENT_CODES, `${path} ${field}=${valueName} -> ${code}: ${text.slice(0, 200)}`).toContain(code);
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });

  it("still serves after all of it", async () => {
    expect((await fetch(`${t.server.baseUrl}/health`)).status).toBe(200);
  });
});
