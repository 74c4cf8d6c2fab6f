/**
 * API-key scopes in an embedding service (issue 19): a real Tessera (port 0,
 * PostgreSQL) and a real Connect service, jobs.v1.JobsService (test/proto, generated
 * into test/gen by buf: its procedures declare `(tessera.v1.scope)`), behind
 * `createAuthInterceptor`. The interceptor learns a key's scopes from CheckToken and
 * reads each procedure's scope from the service's own generated descriptor.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { createAuthInterceptor, requireTesseraPrincipal, type TesseraAuthInterceptor } from "@tessera/connect";
import { ApiKeyService, UserAccountService } from "@tessera/sdk/proto";
import { JobsService } from "../gen/jobs/v1/jobs_pb.js";
import { codeOf, expectCode } from "../helpers/outcome.js";
import { useTessera } from "../harness.js";

describe("@tessera/connect enforces API-key scopes and limits in an embedding service", () => {
  const t = useTessera({
    env: {
      AUTH_MODE: "full",
      AUTH_JWT_ACCESS_TOKEN_LIFETIME: "86400",
      API_KEY_EXTRA_SCOPES: "jobs:read jobs:write jobs.v1.JobsService:read jobs.v1.JobsService/*",
    },
    forwardedFor: true,
  });
  let server: http.Server;
  let auth: TesseraAuthInterceptor;
  let url = "";
  let keys: ReturnType<typeof t.client<typeof ApiKeyService>>;
  let accountId = "";

  beforeAll(async () => {
    auth = createAuthInterceptor({ tesseraUrl: t.baseUrl });
    server = http.createServer(
      connectNodeAdapter({
        interceptors: [auth],
        routes: (router) =>
          router.service(JobsService, {
            listJobs: (_req, ctx: HandlerContext) => ({ userId: requireTesseraPrincipal(ctx).userId }),
            createJob: (_req, ctx: HandlerContext) => ({ userId: requireTesseraPrincipal(ctx).userId }),
            countJobs: () => ({ count: 0n }),
          }),
      }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const user = await t.signUp();
    keys = t.client(ApiKeyService, { token: user.accessToken });
    accountId = (await t.client(UserAccountService, { token: user.accessToken }).getUserAccounts({})).accounts[0]!.id;
  });

  afterAll(async () => {
    await auth?.close();
    await new Promise((r) => server?.close(r));
  });

  async function keyWith(scopes: string[], rateLimits: Array<{ limit: number; windowSeconds: number }> = []): Promise<string> {
    const res = await keys.createAccountApiKey({
      accountId,
      name: `k ${randomBytes(4).toString("hex")}`,
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
      scopes,
      rateLimits,
    });
    return res.keyValue;
  }

  const jobs = (key: string) => createClient(JobsService, createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [withKey(key)] }));
  const withKey =
    (key: string): Interceptor =>
    (next) =>
    (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    };

  it("a jobs:read key calls the read procedure and is refused on the write one with insufficient_scope", async () => {
    const key = await keyWith(["jobs:read"]);
    const client = jobs(key);
    expect((await client.listJobs({})).userId).not.toBe("");
    const e = await expectCode(client.createJob({ name: "x" }), Code.PermissionDenied, /scopes do not include/);
    expect(e.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="insufficient_scope", scope="jobs:write"');
    // A procedure without the option needs its full name (or a wildcard).
    const count = await expectCode(client.countJobs({}), Code.PermissionDenied);
    expect(count.metadata.get("www-authenticate")).toContain('scope="jobs.v1.JobsService/CountJobs"');
    // Served from the interceptor's cache the second time: still enforced.
    await expectCode(client.createJob({ name: "y" }), Code.PermissionDenied);
    expect((await client.listJobs({})).userId).not.toBe("");
  });

  it("read shorthands and wildcards follow the service's descriptor", async () => {
    const readOnly = jobs(await keyWith(["jobs.v1.JobsService:read"]));
    expect((await readOnly.listJobs({})).userId).not.toBe("");
    expect((await readOnly.countJobs({})).count).toBe(0n);
    await expectCode(readOnly.createJob({ name: "x" }), Code.PermissionDenied);
    const anyRead = jobs(await keyWith(["*:read"]));
    expect((await anyRead.countJobs({})).count).toBe(0n);
    await expectCode(anyRead.createJob({ name: "x" }), Code.PermissionDenied);
    const all = jobs(await keyWith(["jobs.v1.JobsService/*"]));
    expect((await all.createJob({ name: "x" })).userId).not.toBe("");
  });

  it("a key with a rate limit is counted by Tessera on every call, even concurrent ones, and refused with retry-after", async () => {
    // Windows are aligned to the epoch: the burst stays inside one hour of Tessera's clock.
    t.clock.advance(3600 - ((t.clock.now().getTime() / 1000) % 3600) + 0.01);
    const client = jobs(await keyWith(["jobs:read"], [{ limit: 4, windowSeconds: 3600 }]));
    const codes = await Promise.all(Array.from({ length: 12 }, () => codeOf(client.listJobs({}))));
    expect(codes.filter((c) => c === "ok")).toHaveLength(4);
    expect(codes.filter((c) => c !== "ok").every((c) => c === Code.ResourceExhausted)).toBe(true);
    const e = await expectCode(client.listJobs({}), Code.ResourceExhausted, /rate limit exceeded \(4 per 3600 s\)/);
    expect(Number(e.metadata.get("retry-after"))).toBeGreaterThan(3000);
    // Here the key is counted by the CheckToken that comes before the scope check: over the
    // limit, a procedure outside the scopes answers ResourceExhausted too.
    await expectCode(client.createJob({ name: "x" }), Code.ResourceExhausted);
  });

  it("a key without scopes calls everything, a key with other services' scopes nothing", async () => {
    const plain = jobs(await keyWith([]));
    expect((await plain.createJob({ name: "x" })).userId).not.toBe("");
    expect((await plain.countJobs({})).count).toBe(0n);
    const foreign = jobs(await keyWith(["tessera.v1.UserAccountService/*"]));
    await expectCode(foreign.listJobs({}), Code.PermissionDenied);
    await expectCode(foreign.createJob({ name: "x" }), Code.PermissionDenied);
  });
});
