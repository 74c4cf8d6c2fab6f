/**
 * HTTP-level conformance checks (issue 10, ASVS V4/V6/V10/V13): TRACE is not served,
 * requests with conflicting framing are refused (request smuggling), responses are
 * labelled with the content type they carry, the console's password fields are masked
 * and paste-friendly, and a provider login whose ID token carries another nonce is
 * aborted (ID token replay, RFC 9700 / OIDC Core 3.1.3.7).
 */
import { describe, expect, it } from "vitest";
import { useTessera, useTestProvider } from "./harness.js";
import net from "node:net";
import { Writable } from "node:stream";
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { createLogger } from "../packages/server/src/lib/logger.js";
import { discoverProvider } from "../packages/server/src/auth/oidc/discovery.js";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pkce, serverEnvFor } from "./helpers/oidc-provider.js";

/** Sends raw bytes and returns the first response line and everything read until close or timeout. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = "";
    const done = () => {
      sock.destroy();
      resolve(data);
    };
    sock.setTimeout(3000, done);
    sock.on("data", (d) => {
      data += d.toString("latin1");
      if (/\r\n\r\n/.test(data)) setTimeout(done, 100);
    });
    sock.on("end", done);
    sock.on("error", (e) => (data ? done() : reject(e)));
    sock.write(bytes);
  });
}

describe("HTTP conformance (AUTH_MODE=full with an OpenID provider, PostgreSQL)", () => {
  const provider = useTestProvider();
  const t = useTessera({ env: () => serverEnvFor(provider, "http://127.0.0.1/cb"), forwardedFor: true });

  it("does not serve TRACE and never reflects the request", async () => {
    for (const path of ["/tessera.v1.AuthService/GetAuthConfig", "/health", "/console/", "/"]) {
      const reply = await rawRequest(t.server.port, `TRACE ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Secret-Probe: reflect-me-123\r\nConnection: close\r\n\r\n`);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
      expect(status, path).toBeGreaterThanOrEqual(400);
      expect(reply, path).not.toContain("reflect-me-123");
    }
  });

  it("refuses a request with both Content-Length and Transfer-Encoding (no request smuggling)", async () => {
    const body = "0\r\n\r\n";
    const smuggled = "POST /tessera.v1.AuthService/GetAuthConfig HTTP/1.1\r\nHost: x\r\n\r\n";
    const reply = await rawRequest(
      t.server.port,
      `POST /tessera.v1.AuthService/GetAuthConfig HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}${smuggled}`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  });

  it("labels every response with the content type of what it carries", async () => {
    const json = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(json.headers.get("content-type")).toBe("application/json");
    JSON.parse(await json.text());
    const proto = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array(),
    });
    expect(proto.headers.get("content-type")).toBe("application/proto");
    await proto.arrayBuffer();
    const err = await fetch(`${t.server.baseUrl}/tessera.v1.AuthService/CheckToken`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(err.headers.get("content-type")).toBe("application/json");
    expect((JSON.parse(await err.text()) as { code: string }).code).toBe("unauthenticated");
    for (const path of ["/health", "/.well-known/jwks.json", "/.well-known/openid-configuration"]) {
      const res = await fetch(`${t.server.baseUrl}${path}`);
      expect(res.headers.get("content-type"), path).toMatch(/^application\/json(; charset=utf-8)?$/);
      JSON.parse(await res.text());
    }
    const html = await fetch(`${t.server.baseUrl}/console/`);
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    await html.text();
  });

  it("masks the console's password fields and leaves paste and password managers alone", async () => {
    const js = await (await fetch(`${t.server.baseUrl}/console/app.js`)).text();
    // Every password input is type=password with a password-manager autocomplete hint.
    const inputs = js.match(/\{[^{}]*type:\s*"password"[^{}]*\}/g) ?? [];
    expect(inputs.length).toBeGreaterThan(0);
    for (const i of inputs) expect(i).toMatch(/autocomplete:\s*"(current|new)-password"/);
    // Nothing blocks pasting.
    expect(js).not.toMatch(/addEventListener\(\s*"paste"|onpaste/);
  });

  it("aborts a provider login whose ID token carries another nonce, with an audit event", async () => {
    const client = createClient(AuthService, t.server.transport("connect", { "x-forwarded-for": "10.77.0.1" }));
    const p = pkce();
    const state = randomBytes(16).toString("base64url");
    const redirectUri = `http://127.0.0.1:${provider.port}/cb`;
    const { url } = await client.getAuthorizeUrl({ redirectUri, state, codeChallenge: p.challenge });
    // An attacker swaps the nonce: the provider signs an ID token for the other nonce.
    const tampered = new URL(url);
    tampered.searchParams.set("nonce", randomBytes(32).toString("base64url"));
    const login = await provider.authorize(tampered.toString(), "nonce-victim");
    const e = await client.exchangeCode({ code: login.code, redirectUri, codeVerifier: p.verifier, state, iss: login.iss ?? "" }).then(
      () => undefined,
      (err: unknown) => ConnectError.from(err),
    );
    expect(e?.code).toBe(Code.Unauthenticated);
    expect(e?.rawMessage).toMatch(/nonce/);
    await t.server.app.deps.audit.flush();
    const ev = await t.database.db.kysely.selectFrom("audit_events").selectAll().where("action", "=", "auth.oidc.replay").execute();
    expect(ev.some((x) => x.metadata.reason === "nonce_mismatch")).toBe(true);
    expect(await t.database.db.kysely.selectFrom("identities").select("id").where("subject", "=", "nonce-victim").execute()).toHaveLength(0);
  });
});

describe("log and input encoding", () => {
  const t = useTessera({ db: "pglite", server: false });

  it("writes hostile strings as one JSON log line each (no log injection), with secrets redacted", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        cb();
      },
    });
    const logger = createLogger({ json: true, level: "info", destination: sink });
    const forged = 'x"}\n{"level":60,"msg":"forged entry","time":0}\r\n\u001b[31m';
    logger.info({ user_agent: forged, password: "hunter2-secret-value" }, `login from ${forged}`);
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rec.level).toBe(30);
    expect(rec.user_agent).toBe(forged);
    expect(lines[0]).not.toContain("hunter2-secret-value");
  });

  it("answers prototype-polluting JSON bodies with a client error, without polluting the server", async () => {
    const server = await t.startServer();
    try {
      for (const body of ['{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"polluted": true}}}']) {
        const res = await fetch(`${server.baseUrl}/tessera.v1.AuthService/Login`, { method: "POST", headers: { "content-type": "application/json" }, body });
        // A clean client error (unknown field, or the handler's own answer), never a 5xx.
        expect(res.status, body).toBeGreaterThanOrEqual(400);
        expect(res.status, body).toBeLessThan(500);
        await res.text();
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});

describe("outbound requests", () => {
  it("does not follow a redirect from the provider's discovery endpoint", async () => {
    let target = "";
    const hits: string[] = [];
    const srv = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      if (req.url?.startsWith("/redirecting/")) {
        res.writeHead(302, { location: `${target}/elsewhere/.well-known/openid-configuration` });
        res.end();
        return;
      }
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          issuer: `${target}/redirecting`,
          jwks_uri: `${target}/jwks`,
          authorization_endpoint: `${target}/auth`,
          token_endpoint: `${target}/token`,
        }),
      );
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    target = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      await expect(discoverProvider(`${target}/redirecting`, `${target}/redirecting`, { attempts: 1, retryDelayMs: 1 })).rejects.toThrow();
      expect(hits.some((h) => h.startsWith("/elsewhere/"))).toBe(false);
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
