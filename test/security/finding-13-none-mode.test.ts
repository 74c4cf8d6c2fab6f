/**
 * Finding 13 of issue 13: (a) the anonymous user kept the instance-admin flag after a
 * deployment left AUTH_MODE=none; (b) a local AUTH_MODE=none instance answered any Host
 * and any Origin, so a web page could drive it by DNS rebinding (its name resolving to
 * 127.0.0.1) or by plain cross-site requests. Now AUTH_MODE=none answers only requests
 * addressed to this machine's loopback names, HOST or TESSERA_PUBLIC_URL, from no browser
 * origin or a loopback / CORS_ALLOWED_ORIGINS one, and refuses the rest before any handler.
 */
import { describe, expect, it } from "vitest";
import { DB_KINDS, useTessera } from "../harness.js";
import http from "node:http";
import type { LookupFunction } from "node:net";
import { randomUUID } from "node:crypto";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { AuthService, AuthMode } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { ANONYMOUS_USER_ID } from "../../packages/server/src/store/ids.js";
import { createKeyRing } from "../../packages/server/src/auth/tokens/signing-keys.js";
import { issueAccessToken } from "../../packages/server/src/auth/tokens/access-tokens.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import { createHumanUser } from "../helpers/principals.js";
import type { Protocol } from "../helpers/server.js";
import { codeOf, expectCode } from "../helpers/outcome.js";

describe.each(DB_KINDS)("finding 13: the anonymous user after AUTH_MODE=none on %s", (kind) => {
  const tessera = useTessera({ db: kind, server: false });

  const anonymous = () => tessera.database.db.kysely.selectFrom("users").selectAll().where("id", "=", ANONYMOUS_USER_ID).executeTakeFirstOrThrow();

  it("finding 13: leaving AUTH_MODE=none takes the instance-admin flag from the anonymous user, and it can do nothing", async () => {
    const target = await createHumanUser(tessera.database.db.kysely);
    const none = await tessera.startServer();
    try {
      expect((await anonymous()).is_instance_admin).toBe(true);
      expect(await codeOf(none.client(AuthService).setUserDisabled({ userId: target, disabled: false }))).toBe("ok");
    } finally {
      await none.close();
    }

    const modes: Array<Record<string, string>> = [
      { AUTH_MODE: "full" },
      { AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: `admin-${kind}@example.com`, AUTH_ADMIN_PASSWORD: "an admin password" },
    ];
    for (const env of modes) {
      const s = await tessera.startServer({ env });
      try {
        const anon = await anonymous();
        expect(anon.is_instance_admin, env.AUTH_MODE).toBe(false);
        expect(anon.disabled_at, env.AUTH_MODE).not.toBeNull();
        // Even an access token for it, signed with the instance's own key, gets nowhere.
        const keys = createKeyRing(tessera.database.db.kysely, () => new Date(), createLogger({ json: true, level: "silent" }));
        await keys.start();
        const forged = await issueAccessToken(keys, s.app.config, new Date(), ANONYMOUS_USER_ID, randomUUID(), { amr: ["pwd"], assuranceLevel: 1 });
        keys.stop();
        const as = (svc: typeof AuthService) => s.client(svc, { token: forged.token });
        await expectCode(as(AuthService).checkToken({}), Code.Unauthenticated);
        await expectCode(as(AuthService).setUserDisabled({ userId: target, disabled: true }), Code.Unauthenticated);
        await expectCode(s.client(UserAccountService, { token: forged.token }).getUserAccounts({}), Code.Unauthenticated);
        // Nothing reaches it without a token either.
        await expectCode(s.client(AuthService).setUserDisabled({ userId: target, disabled: true }), Code.Unauthenticated);
      } finally {
        await s.close();
      }
    }
    expect(
      (await tessera.database.db.kysely.selectFrom("users").select("disabled_at").where("id", "=", target).executeTakeFirstOrThrow()).disabled_at,
    ).toBeNull();

    // Back in AUTH_MODE=none the anonymous user is the instance admin again.
    const again = await tessera.startServer();
    try {
      const anon = await anonymous();
      expect(anon.is_instance_admin).toBe(true);
      expect(anon.disabled_at).toBeNull();
      expect(await codeOf(again.client(AuthService).setUserDisabled({ userId: target, disabled: false }))).toBe("ok");
    } finally {
      await again.close();
    }
  });
});

/** Resolves every name to 127.0.0.1, as a DNS rebinding attack makes a browser do. */
const rebind: LookupFunction = (_hostname, options, callback) => {
  const cb = callback as (err: Error | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;
  if (options.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
  else cb(null, "127.0.0.1", 4);
};

/** A transport to `baseUrl` whose name resolves to 127.0.0.1, with extra request headers. */
function transportTo(baseUrl: string, protocol: Protocol, headers: Record<string, string> = {}): Transport {
  const interceptors = [
    (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
      async (req: Parameters<Parameters<import("@connectrpc/connect").Interceptor>[0]>[0]) => {
        for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
        return next(req);
      },
  ];
  if (protocol === "grpc") return createGrpcTransport({ baseUrl, interceptors, nodeOptions: { lookup: rebind } });
  if (protocol === "grpc-web") return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors, nodeOptions: { lookup: rebind } });
  return createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors, nodeOptions: { lookup: rebind } });
}

/** A plain HTTP/1.1 GET to the server with the given headers: status and parsed JSON body. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "GET", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: res.headers["content-type"] }));
    });
    req.on("error", reject);
    req.end();
  });
}

const PROTOCOLS: Protocol[] = ["connect", "grpc-web", "grpc"];

describe("finding 13: AUTH_MODE=none answers only this machine (PostgreSQL)", () => {
  const PUBLIC = "http://tessera.test:9443";
  const ALLOWED_ORIGIN = "https://app.example.test";
  const tessera = useTessera({ env: { TESSERA_PUBLIC_URL: PUBLIC, CORS_ALLOWED_ORIGINS: ALLOWED_ORIGIN } });

  const teams = (name: string) => tessera.database.db.kysely.selectFrom("accounts").select("id").where("name", "=", name).execute();

  it("finding 13: in AUTH_MODE=none a request for another host name (DNS rebinding) is refused before any handler, over Connect, gRPC-web and gRPC", async () => {
    for (const host of ["rebound.example", "localhost.rebound.example", "127.0.0.1.nip.example"]) {
      for (const protocol of PROTOCOLS) {
        const t = transportTo(`http://${host}:${tessera.server.port}`, protocol);
        const name = `rebound ${protocol} ${randomUUID()}`;
        expect(await codeOf(createClient(UserAccountService, t).createTeamAccount({ name })), `${host} ${protocol}`).not.toBe("ok");
        expect(await codeOf(createClient(AuthService, t).getAuthConfig({})), `${host} ${protocol}`).not.toBe("ok");
        expect(await teams(name), `${host} ${protocol}`).toEqual([]);
      }
    }
    // The port is not checked: a rebinding page chooses its port, never the name the browser
    // sends; and raw HTTP clients often send a loopback Host without the port.
    for (const host of ["127.0.0.1", `localhost:${tessera.server.port + 1}`]) {
      expect(await codeOf(createClient(AuthService, transportTo(`http://127.0.0.1:${tessera.server.port}`, "connect", { host })).getAuthConfig({})), host).toBe(
        "ok",
      );
    }
    // Plain HTTP handlers are behind the same check, with a JSON answer that names the fix.
    for (const path of ["/health", "/console/", "/tessera.v1.AuthService/GetAuthConfig?connect=v1&encoding=json&message=%7B%7D"]) {
      const res = await rawGet(tessera.server.port, path, { host: `rebound.example:${tessera.server.port}` });
      expect(res.status, path).toBe(421);
      expect(res.type, path).toBe("application/json");
      const body = JSON.parse(res.body) as { code: string; message: string };
      expect(body.code).toBe("permission_denied");
      expect(body.message).toMatch(/AUTH_MODE=none/);
      expect(body.message).toMatch(/TESSERA_PUBLIC_URL/);
    }
    // The Connect client reads that answer as PermissionDenied with the message.
    await expectCode(
      createClient(AuthService, transportTo(`http://rebound.example:${tessera.server.port}`, "connect")).getAuthConfig({}),
      Code.PermissionDenied,
      /TESSERA_PUBLIC_URL/,
    );
  });

  it("finding 13: in AUTH_MODE=none a browser request from a foreign Origin is refused; loopback origins and CORS_ALLOWED_ORIGINS pass", async () => {
    const local = `http://127.0.0.1:${tessera.server.port}`;
    for (const origin of ["https://evil.example", `http://rebound.example:${tessera.server.port}`, "null"]) {
      for (const protocol of PROTOCOLS) {
        const t = transportTo(local, protocol, { origin });
        const name = `cross-site ${protocol} ${randomUUID()}`;
        expect(await codeOf(createClient(UserAccountService, t).createTeamAccount({ name })), `${origin} ${protocol}`).not.toBe("ok");
        expect(await teams(name)).toEqual([]);
      }
      const res = await rawGet(tessera.server.port, "/health", { origin });
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ code: "permission_denied", message: expect.stringMatching(/CORS_ALLOWED_ORIGINS/) });
    }
    await expectCode(
      createClient(AuthService, transportTo(local, "connect", { origin: "https://evil.example" })).getAuthConfig({}),
      Code.PermissionDenied,
      /CORS_ALLOWED_ORIGINS/,
    );
    for (const origin of [local, `http://localhost:5173`, `http://[::1]:3000`, ALLOWED_ORIGIN, PUBLIC]) {
      for (const protocol of PROTOCOLS) {
        const cfg = await createClient(AuthService, transportTo(local, protocol, { origin })).getAuthConfig({});
        expect(cfg.mode, `${origin} ${protocol}`).toBe(AuthMode.NONE);
      }
    }
  });

  it("finding 13: in AUTH_MODE=none loopback names, HOST and TESSERA_PUBLIC_URL still reach the RPCs, the console and /health", async () => {
    for (const protocol of PROTOCOLS) {
      const name = `local ${protocol} ${randomUUID()}`;
      await tessera.server.client(UserAccountService, { protocol }).createTeamAccount({ name });
      expect(await teams(name)).toHaveLength(1);
    }
    for (const host of [
      `127.0.0.1:${tessera.server.port}`,
      `localhost:${tessera.server.port}`,
      `LocalHost:${tessera.server.port}`,
      `[::1]:${tessera.server.port}`,
      "tessera.test:9443",
    ]) {
      expect((await rawGet(tessera.server.port, "/health", { host })).status, host).toBe(200);
      expect((await rawGet(tessera.server.port, "/console/", { host })).status, host).toBe(200);
      for (const protocol of PROTOCOLS) {
        const t = transportTo(`http://127.0.0.1:${tessera.server.port}`, protocol, { host });
        expect((await createClient(AuthService, t).getAuthConfig({})).mode, `${host} ${protocol}`).toBe(AuthMode.NONE);
      }
    }
    // Other modes authenticate every caller, so they answer any Host (a proxy's name, say).
    const full = await tessera.startServer({ env: { AUTH_MODE: "full" } });
    try {
      expect((await createClient(AuthService, transportTo(`http://rebound.example:${full.port}`, "grpc")).getAuthConfig({})).mode).toBe(AuthMode.FULL);
      expect((await rawGet(full.port, "/health", { host: "rebound.example", origin: "https://evil.example" })).status).toBe(200);
    } finally {
      await full.close();
    }
  });
});
