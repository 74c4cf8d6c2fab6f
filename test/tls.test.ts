/**
 * Issue 20: TLS and mutual TLS on the one port. Certificates are made in the test
 * (helpers/certs.ts); Connect (HTTP/2 and HTTP/1.1), gRPC, gRPC-web and Python's grpcio
 * (an independent gRPC implementation) call over TLS; client certificates are verified
 * against the configured CA; certificate files are reloaded without a restart.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { copyFileSync, renameSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ConfigError, loadConfig } from "../packages/server/src/config/config.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createTesseraClient } from "../packages/sdk/src/node.js";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { makeTestCerts } from "./helpers/certs.js";
import { runTessera } from "./helpers/tessera-cli.js";
import { useTessera } from "./harness.js";

const certs = makeTestCerts();
const ca = certs.read(certs.caCert);

type Id = { cert: string; key: string } | undefined;
const tlsOpts = (id: Id) => ({ ca, ...(id ? { cert: certs.read(id.cert), key: certs.read(id.key) } : {}) });

function transports(port: number, id?: Id): Record<string, Transport> {
  const baseUrl = `https://localhost:${port}`;
  return {
    "connect h2": createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions: tlsOpts(id) }),
    "connect http/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tlsOpts(id) }),
    grpc: createGrpcTransport({ baseUrl, nodeOptions: tlsOpts(id) }),
    "grpc-web": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tlsOpts(id) }),
  };
}

/** The handshake's outcome for a client presenting `id`: the server certificate's CN, or the error. */
function handshake(port: number, id?: Id, alpn = ["h2"]): Promise<{ ok: true; cn: string; alpn: string | false } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const sock = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ALPNProtocols: alpn, ...tlsOpts(id) }, () => {
      const cn = String(sock.getPeerCertificate().subject?.CN ?? "");
      // TLS 1.3: the server checks the client certificate after the client's handshake
      // completes, so a refusal arrives as a close right after: wait for it briefly.
      const t = setTimeout(() => {
        sock.destroy();
        resolve({ ok: true, cn, alpn: sock.alpnProtocol ?? false });
      }, 200);
      sock.once("close", () => {
        clearTimeout(t);
        resolve({ ok: false, error: "closed by server" });
      });
    });
    sock.once("error", (e) => resolve({ ok: false, error: e.message }));
  });
}

/** One GetAuthConfig through Python's grpcio over TLS (generic unary call: the empty request is zero bytes); async, the server is in this process. */
async function pythonGrpc(port: number, id?: Id): Promise<string> {
  const script = `
import grpc, sys
root = open(sys.argv[2], "rb").read()
key = open(sys.argv[4], "rb").read() if sys.argv[4] else None
chain = open(sys.argv[3], "rb").read() if sys.argv[3] else None
creds = grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)
with grpc.secure_channel("localhost:" + sys.argv[1], creds) as ch:
    call = ch.unary_unary("/tessera.v1.AuthService/GetAuthConfig", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        out = call(b"", timeout=10)
        print("ok", len(out))
    except grpc.RpcError as e:
        print("error", e.code().name)
`;
  const { stdout } = await promisify(execFile)("/usr/bin/python3", ["-c", script, String(port), certs.caCert, id?.cert ?? "", id?.key ?? ""], {
    encoding: "utf8",
  });
  return stdout.trim();
}

describe("TLS on the one port", () => {
  const t = useTessera({ db: "pglite", server: false });

  it("serves Connect (h2 and HTTP/1.1), gRPC, gRPC-web and grpcio over TLS 1.2+, and nothing in plaintext", async () => {
    const server = await t.startServer({ env: { AUTH_MODE: "full", TLS_CERT_PATH: certs.server.cert, TLS_KEY_PATH: certs.server.key } });
    try {
      for (const [name, transport] of Object.entries(transports(server.port))) {
        const cfg = await createClient(AuthService, transport).getAuthConfig({});
        expect(cfg.mode, name).toBeTruthy();
      }
      expect(await pythonGrpc(server.port)).toMatch(/^ok \d+$/);
      expect(await handshake(server.port, undefined, ["h2"])).toMatchObject({ ok: true, alpn: "h2" });
      expect(await handshake(server.port, undefined, ["http/1.1"])).toMatchObject({ ok: true, alpn: "http/1.1" });
      // TLS 1.1 is refused.
      const old = await new Promise<string>((resolve) => {
        const s = tls.connect({ port: server.port, host: "127.0.0.1", ca, servername: "localhost", maxVersion: "TLSv1.1", minVersion: "TLSv1" }, () =>
          resolve("connected"),
        );
        s.once("error", (e) => resolve(e.message));
      });
      expect(old).not.toBe("connected");
      // Plaintext HTTP to the TLS port gets no answer.
      const plain = await fetch(`http://127.0.0.1:${server.port}/health`).then(
        (r) => `status ${r.status}`,
        (e: Error) => e.message,
      );
      expect(plain).not.toMatch(/^status 200/);
      expect(server.app.config.publicUrl).toMatch(/^https:\/\//);
    } finally {
      await server.close();
    }
  });

  it("reloads changed certificate files without a restart: new connections get the new certificate, open ones keep working", async () => {
    const live = path.join(certs.dir, "live");
    execFileSync("mkdir", ["-p", live]);
    copyFileSync(certs.server.cert, path.join(live, "cert.pem"));
    copyFileSync(certs.server.key, path.join(live, "key.pem"));
    const server = await t.startServer({
      env: { AUTH_MODE: "full", TLS_CERT_PATH: path.join(live, "cert.pem"), TLS_KEY_PATH: path.join(live, "key.pem"), TLS_RELOAD_INTERVAL_MS: "100" },
    });
    try {
      const open = createClient(AuthService, createGrpcTransport({ baseUrl: `https://localhost:${server.port}`, nodeOptions: { ca } }));
      await open.getAuthConfig({});
      expect(await handshake(server.port)).toMatchObject({ ok: true, cn: "server" });

      // A half-done rotation (new certificate, old key) does not load: the old pair stays.
      const next = certs.issueServer("server-rotated");
      copyFileSync(next.cert, path.join(live, "cert.tmp"));
      renameSync(path.join(live, "cert.tmp"), path.join(live, "cert.pem"));
      await new Promise((r) => setTimeout(r, 400));
      expect(await handshake(server.port)).toMatchObject({ ok: true, cn: "server" });
      expect(server.logs.some((l) => l.includes("do not load"))).toBe(true);
      // The key arrives: the new pair is served (polled up to 5 s).
      copyFileSync(next.key, path.join(live, "key.tmp"));
      renameSync(path.join(live, "key.tmp"), path.join(live, "key.pem"));
      let cn = "";
      for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
        const h = await handshake(server.port);
        if (h.ok) cn = h.cn;
        if (cn === "server-rotated") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(cn).toBe("server-rotated");
      // The connection opened before the change still answers.
      await open.getAuthConfig({});
    } finally {
      await server.close();
    }
  });

  it("reloads a certificate from a new CA while connections are open: they keep working, new handshakes get the new chain", async () => {
    const live = path.join(certs.dir, "live-new-ca");
    execFileSync("mkdir", ["-p", live]);
    copyFileSync(certs.server.cert, path.join(live, "cert.pem"));
    copyFileSync(certs.server.key, path.join(live, "key.pem"));
    const server = await t.startServer({
      env: { AUTH_MODE: "full", TLS_CERT_PATH: path.join(live, "cert.pem"), TLS_KEY_PATH: path.join(live, "key.pem"), TLS_RELOAD_INTERVAL_MS: "100" },
    });
    const otherCa = certs.read(certs.otherCaCert);
    /** A handshake trusting only `trust`: the server certificate's CN and issuer CN, or the error. */
    const trusting = (trust: string) =>
      new Promise<{ ok: true; cn: string; issuer: string } | { ok: false; error: string }>((resolve) => {
        const sock = tls.connect({ port: server.port, host: "127.0.0.1", servername: "localhost", ca: trust }, () => {
          const c = sock.getPeerCertificate();
          sock.destroy();
          resolve({ ok: true, cn: String(c.subject?.CN ?? ""), issuer: String(c.issuer?.CN ?? "") });
        });
        sock.once("error", (e) => resolve({ ok: false, error: e.message }));
      });
    try {
      // Connections opened under the old CA: an HTTP/2 session (gRPC) and a raw HTTP/1.1 one.
      const h2 = createClient(AuthService, createGrpcTransport({ baseUrl: `https://localhost:${server.port}`, nodeOptions: { ca } }));
      await h2.getAuthConfig({});
      const h1 = tls.connect({ port: server.port, host: "127.0.0.1", servername: "localhost", ca, ALPNProtocols: ["http/1.1"] });
      await new Promise<void>((resolve, reject) => h1.once("secureConnect", resolve).once("error", reject));
      let h1Text = "";
      h1.setEncoding("utf8").on("data", (d: string) => (h1Text += d));
      /** A keep-alive GET /health on the old HTTP/1.1 connection: the status line of its answer. */
      const h1Health = async () => {
        h1Text = "";
        h1.write(`GET /health HTTP/1.1\r\nHost: localhost:${server.port}\r\n\r\n`);
        for (const deadline = Date.now() + 5000; !h1Text.includes("\r\n\r\n") && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
        return h1Text.split("\r\n")[0];
      };
      expect(await h1Health()).toBe("HTTP/1.1 200 OK");
      expect(await trusting(ca)).toMatchObject({ ok: true, cn: "server", issuer: "ca" });

      // The new pair, from another CA; the key first, then the certificate (each renamed into place).
      const next = certs.issueServer("server-new-ca", "other-ca");
      copyFileSync(next.key, path.join(live, "key.tmp"));
      renameSync(path.join(live, "key.tmp"), path.join(live, "key.pem"));
      copyFileSync(next.cert, path.join(live, "cert.tmp"));
      renameSync(path.join(live, "cert.tmp"), path.join(live, "cert.pem"));
      let seen: Awaited<ReturnType<typeof trusting>> = { ok: false, error: "not tried" };
      for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
        seen = await trusting(otherCa);
        if (seen.ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // New handshakes: the new chain, which a client trusting only the old CA refuses.
      expect(seen).toMatchObject({ ok: true, cn: "server-new-ca", issuer: "other-ca" });
      expect(await trusting(ca)).toMatchObject({ ok: false });
      expect(await pythonGrpc(server.port)).toMatch(/^error UNAVAILABLE$/);
      // The connections opened before still answer, on their old session.
      for (let i = 0; i < 3; i++) {
        expect((await h2.getAuthConfig({})).mode).toBeTruthy();
        expect(await h1Health()).toBe("HTTP/1.1 200 OK");
      }
      h1.destroy();
    } finally {
      await server.close();
    }
  });

  it("stops startup with one line naming the variable for bad TLS settings", () => {
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return "loaded";
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
    };
    const other = certs.issueServer("mismatch");
    expect(bad({ TLS_CERT_PATH: certs.server.cert, TLS_KEY_PATH: other.key })).toMatch(/^TLS_KEY_PATH: not a usable key/);
    expect(bad({ TLS_CERT_PATH: certs.server.cert })).toMatch(/^TLS_KEY: required with TLS_CERT/);
    expect(bad({ TLS_CERT_PATH: "/nonexistent/cert.pem", TLS_KEY_PATH: certs.server.key })).toMatch(/^TLS_CERT_PATH: cannot read/);
    expect(bad({ TLS_CERT: certs.read(certs.server.cert), TLS_CERT_PATH: certs.server.cert, TLS_KEY_PATH: certs.server.key })).toMatch(
      /^TLS_CERT: set TLS_CERT or/,
    );
    expect(bad({ TLS_CLIENT_CA_PATH: certs.caCert })).toMatch(/^TLS_CLIENT_CA_PATH: mutual TLS needs TLS/);
    // Contents with escaped newlines (an env file cannot hold real ones) work too.
    const inline = { TLS_CERT: certs.read(certs.server.cert).replace(/\n/g, "\\n"), TLS_KEY: certs.read(certs.server.key) };
    expect(bad(inline)).toBe("loaded");
  });
});

describe("mutual TLS", () => {
  const t = useTessera({ db: "pglite", server: false });
  const base = { AUTH_MODE: "full", TLS_CERT_PATH: certs.server.cert, TLS_KEY_PATH: certs.server.key, TLS_CLIENT_CA_PATH: certs.caCert };

  it("required: only clients with a certificate from the CA connect, over every protocol", async () => {
    const server = await t.startServer({ env: base });
    try {
      for (const [name, transport] of Object.entries(transports(server.port, certs.client))) {
        expect((await createClient(AuthService, transport).getAuthConfig({})).mode, name).toBeTruthy();
      }
      expect(await pythonGrpc(server.port, certs.client)).toMatch(/^ok \d+$/);
      expect(await handshake(server.port, certs.client)).toMatchObject({ ok: true });
      for (const [what, id] of [
        ["no certificate", undefined],
        ["another CA", certs.otherCaClient],
        ["expired", certs.expiredClient],
      ] as const) {
        expect(await handshake(server.port, id), what).toMatchObject({ ok: false });
      }
      expect(await pythonGrpc(server.port)).toBe("error UNAVAILABLE");
      const refused = await createClient(AuthService, transports(server.port, certs.otherCaClient).grpc!)
        .getAuthConfig({})
        .then(
          () => "answered",
          () => "refused",
        );
      expect(refused).toBe("refused");
    } finally {
      await server.close();
    }
  });

  it("the SDK (three protocols) and the CLI present client certificates", async () => {
    const server = await t.startServer({ env: base });
    try {
      const baseUrl = `https://localhost:${server.port}`;
      const tlsFiles = { ca, cert: certs.read(certs.client.cert), key: certs.read(certs.client.key) };
      for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
        expect((await createTesseraClient({ baseUrl, protocol, tls: tlsFiles }).auth.getAuthConfig({})).mode, protocol).toBeTruthy();
      }
      const sdk = createTesseraClient({ baseUrl, tls: tlsFiles });
      const { tokens } = await sdk.auth.signUp({ email: `mtls-${Date.now()}@example.test`, password: "correct horse battery staple" });
      const signedIn = createTesseraClient({ baseUrl, tls: tlsFiles, accessToken: tokens!.accessToken });
      const { accounts } = await signedIn.client(UserAccountService).getUserAccounts({});
      const { keyValue } = await signedIn.client(ApiKeyService).createAccountApiKey({
        accountId: accounts[0]!.id,
        name: "cli over mtls",
        expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
      });
      const cliEnv = { TESSERA_API_URL: baseUrl, TESSERA_API_KEY: keyValue, TESSERA_CA_CERT: certs.caCert };
      const ok = await runTessera(["whoami", "--output", "json"], { ...cliEnv, TESSERA_CLIENT_CERT: certs.client.cert, TESSERA_CLIENT_KEY: certs.client.key });
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain(accounts[0]!.id);
      const without = await runTessera(["whoami"], cliEnv);
      expect(without.code).not.toBe(0);
      const half = await runTessera(["whoami"], { ...cliEnv, TESSERA_CLIENT_CERT: certs.client.cert });
      expect(half.code).toBe(2);
      expect(half.stderr).toContain("TESSERA_CLIENT_CERT and TESSERA_CLIENT_KEY go together");
    } finally {
      await server.close();
    }
  });

  it("optional: clients without a certificate connect, a presented certificate must still verify", async () => {
    const server = await t.startServer({ env: { ...base, TLS_CLIENT_AUTH: "optional" } });
    try {
      expect(await handshake(server.port)).toMatchObject({ ok: true });
      expect(await handshake(server.port, certs.client)).toMatchObject({ ok: true });
      expect(await handshake(server.port, certs.otherCaClient)).toMatchObject({ ok: false });
      expect(await handshake(server.port, certs.expiredClient)).toMatchObject({ ok: false });
      expect((await createClient(AuthService, transports(server.port).grpc!).getAuthConfig({})).mode).toBeTruthy();
    } finally {
      await server.close();
    }
  });
});
