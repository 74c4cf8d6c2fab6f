/**
 * `@tessera/connect` with the revocation stream, end to end: a real Tessera (port 0,
 * PostgreSQL) and a real embedding Connect service (greet.v1.GreetService over HTTP/2)
 * behind `createAuthInterceptor({ revocation })`. CheckToken calls are counted on the
 * embedding service's transport to Tessera. Revocations are asynchronous: every
 * refusal is polled up to the 1 s bound, never expected on the next request.
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { useTessera, type TestServer } from "../harness.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { createAuthInterceptor, requireTesseraPrincipal, type RevocationOptions, type TesseraAuthInterceptor } from "@tessera/connect";
import { ApiKeyService, AuthService, RevocationService } from "@tessera/sdk/proto";
import { createTesseraClient } from "@tessera/sdk/node";
import { codeOf } from "../helpers/outcome.js";
import { eventually } from "./fake-revocations.js";
import { greetService } from "./greet-service.js";

const GreetService = greetService();

/** The transport the embedding service uses to reach Tessera: counts CheckToken calls, and can cut the revocation stream. */
function tesseraLink(baseUrl: string) {
  const link = { checkTokens: 0, cut: false, transport: undefined as unknown as ReturnType<typeof createConnectTransport> };
  const tap: Interceptor = (next) => async (req) => {
    if (req.method.name === "CheckToken") link.checkTokens++;
    if (req.method.name === "WatchRevocations") {
      if (link.cut) throw new ConnectError("stream cut by the test", Code.Unavailable);
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          for await (const m of messages) {
            if (link.cut) throw new ConnectError("stream cut by the test", Code.Unavailable);
            yield m;
          }
        })(),
      };
    }
    return next(req);
  };
  link.transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [tap] });
  return link;
}

/** The embedding service on h2c, port 0. */
async function startEmbedding(auth: TesseraAuthInterceptor) {
  const server = http2.createServer(
    connectNodeAdapter({
      interceptors: [auth],
      routes: (router) =>
        router.service(GreetService, {
          greet(req: { name: string }, ctx: HandlerContext) {
            const p = requireTesseraPrincipal(ctx);
            return { greeting: `hello ${req.name}`, userId: p.userId, kind: p.kind, via: p.via };
          },
        } as never),
    }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
  const greet = createClient(GreetService, transport) as unknown as {
    greet(r: { name: string }, o?: { headers?: Record<string, string> }): Promise<Record<string, string>>;
  };
  return {
    call: (token: string) => greet.greet({ name: "ada" }, { headers: { authorization: `Bearer ${token}` } }),
    close: async () => {
      await auth.close();
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("@tessera/connect with the revocation stream against a real Tessera", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let tessera: TestServer = t.server;
  let watchKey: string;
  let owner: { client: ReturnType<typeof createTesseraClient>; accountId: string; refreshToken: string; accessToken: string };

  beforeAll(async () => {
    const client = createTesseraClient({ baseUrl: tessera.baseUrl });
    const tag = randomBytes(4).toString("hex");
    const tokens = await client.signUp(`embed-${tag}@example.test`, `pw ${randomBytes(12).toString("base64")} ${tag}`);
    await t.database.db.kysely.updateTable("users").set({ is_instance_admin: true }).where("id", "=", tokens.userId!).execute();
    const accountId = (await client.userAccounts.getUserAccounts({})).accounts[0]!.id;
    const created = await client.apiKeys.createAccountApiKey({
      accountId,
      name: "revocation watcher",
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    watchKey = created.keyValue;
    owner = { client, accountId, refreshToken: tokens.refreshToken ?? "", accessToken: tokens.accessToken };
  });

  async function embedding(revocation: Partial<RevocationOptions> = {}) {
    const link = tesseraLink(tessera.baseUrl);
    const auth = createAuthInterceptor({
      tesseraUrl: tessera.baseUrl,
      transport: link.transport,
      revocation: { credential: watchKey, subscriberName: "e2e greet", ...revocation },
    });
    const svc = await startEmbedding(auth);
    expect(await eventually(() => auth.revocationStatus()!.live, 5000), auth.revocationStatus()!.lastError).toBe(true);
    return { link, auth, svc };
  }

  async function newKey(name: string) {
    const created = await owner.client.apiKeys.createAccountApiKey({
      accountId: owner.accountId,
      name,
      expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
    });
    return { key: created.keyValue, id: created.apiKey!.id };
  }

  const refusedWithin = (svc: { call(t: string): Promise<unknown> }, token: string, ms: number) =>
    eventually(async () => (await codeOf(svc.call(token))) === Code.Unauthenticated, ms);

  it("refuses a deleted key within 1 s, with zero CheckToken calls for the warm key", async () => {
    const { link, auth, svc } = await embedding();
    try {
      const k = await newKey("e2e-delete");
      expect(await svc.call(k.key)).toMatchObject({ kind: "api_key", via: "introspection" });
      expect(link.checkTokens).toBe(1);
      for (let i = 0; i < 30; i++) await svc.call(k.key);
      expect(link.checkTokens).toBe(1); // warm: no call to Tessera

      const del = await owner.client.apiKeys.deleteAccountApiKey({ id: k.id });
      expect(await refusedWithin(svc, k.key, 1000)).toBe(true);
      expect(link.checkTokens).toBe(1); // refused from the stream's event, not by asking
      // Tessera knows this subscriber applied the deletion.
      const status = createClient(RevocationService, tessera.transport("connect", { authorization: `Bearer ${watchKey}` }));
      expect(
        await eventually(async () => {
          const s = await status.getRevocationStatus({ sequence: del.revocationSequence });
          return s.participants.some((p) => p.kind === "subscriber" && p.name.includes("e2e greet") && p.appliedSequence >= del.revocationSequence);
        }, 12_000),
      ).toBe(true);
      void auth;
    } finally {
      await svc.close();
    }
  });

  it("refuses a Tessera JWT once its session ends", async () => {
    const { svc } = await embedding();
    try {
      const session = await createTesseraClient({ baseUrl: tessera.baseUrl }).signUp(
        `jwt-${randomBytes(4).toString("hex")}@example.test`,
        `pw ${randomBytes(12).toString("base64")} x`,
      );
      expect(await svc.call(session.accessToken)).toMatchObject({ via: "jwt", userId: session.userId });
      await createClient(AuthService, tessera.transport()).logout({ refreshToken: session.refreshToken ?? "" });
      expect(await refusedWithin(svc, session.accessToken, 1000)).toBe(true);
    } finally {
      await svc.close();
    }
  });

  it("resumes from its cursor after the stream is cut, applying the deletion made meanwhile", async () => {
    const { link, auth, svc } = await embedding({ maxStalenessMs: 60_000 });
    try {
      const k = await newKey("e2e-resume");
      await svc.call(k.key);
      const checks = link.checkTokens;
      link.cut = true;
      expect(await eventually(() => auth.revocationStatus()!.lastError !== undefined, 3000)).toBe(true);
      await owner.client.apiKeys.deleteAccountApiKey({ id: k.id });
      expect(await codeOf(svc.call(k.key))).toBe("ok"); // cut, not yet stale: the cached answer holds
      link.cut = false;
      expect(await refusedWithin(svc, k.key, 8000)).toBe(true);
      expect(link.checkTokens).toBe(checks); // applied from the resumed stream
    } finally {
      await svc.close();
    }
  });

  it("fails safe while the stream is down past maxStalenessMs: re-checks every request (or refuses), then trusts the stream again", async () => {
    const recheck = await embedding({ maxStalenessMs: 500 });
    const refuse = await embedding({ maxStalenessMs: 500, onStale: "refuse" });
    try {
      const k = await newKey("e2e-stale");
      for (const e of [recheck, refuse]) expect(await codeOf(e.svc.call(k.key))).toBe("ok");
      recheck.link.cut = true;
      refuse.link.cut = true;
      expect(await eventually(() => !recheck.auth.revocationStatus()!.live && !refuse.auth.revocationStatus()!.live, 5000)).toBe(true);

      const before = recheck.link.checkTokens;
      for (let i = 0; i < 5; i++) expect(await codeOf(recheck.svc.call(k.key))).toBe("ok");
      expect(recheck.link.checkTokens - before).toBe(5); // one CheckToken per request
      expect(await codeOf(refuse.svc.call(k.key))).toBe(Code.Unavailable);

      await owner.client.apiKeys.deleteAccountApiKey({ id: k.id });
      expect(await codeOf(recheck.svc.call(k.key))).toBe(Code.Unauthenticated); // the re-check sees the deletion at once

      const k2 = await newKey("e2e-stale-2");
      recheck.link.cut = false;
      refuse.link.cut = false;
      expect(await eventually(() => recheck.auth.revocationStatus()!.live && refuse.auth.revocationStatus()!.live, 8000)).toBe(true);
      expect(await codeOf(refuse.svc.call(k2.key))).toBe("ok");
      await recheck.svc.call(k2.key);
      const warm = recheck.link.checkTokens;
      for (let i = 0; i < 5; i++) await recheck.svc.call(k2.key);
      expect(recheck.link.checkTokens).toBe(warm);
    } finally {
      await recheck.svc.close();
      await refuse.svc.close();
    }
  });

  it("fails safe when Tessera itself goes away: a warm key is not accepted on stale knowledge", async () => {
    const { svc } = await embedding({ maxStalenessMs: 500 });
    const k = await newKey("e2e-gone");
    expect(await codeOf(svc.call(k.key))).toBe("ok");
    const other = await t.startServer();
    try {
      await tessera.close();
      expect(await eventually(async () => (await codeOf(svc.call(k.key))) === Code.Unavailable, 5000)).toBe(true);
    } finally {
      await svc.close();
      tessera = other; // the harness closes both
    }
  });
});

void ApiKeyService;
