/**
 * Issue 20, mutual-TLS identities: API keys bound to a client certificate (RFC 8705 §3,
 * `x5t#S256`) are refused without it, at Tessera (Connect, gRPC, gRPC-web, Python's
 * grpcio) and at a service embedding @tessera/connect; client certificates mapped to a
 * machine user of an account (ClientCertService) authenticate requests without a bearer
 * with an API key's powers and scopes, until the mapping is deleted. Certificates are
 * made in the test (helpers/certs.ts); the server asks for them optionally, so a client
 * without one reaches the application and is refused there.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { clientCertContextValues, clientCertificateOf, createAuthInterceptor, requireTesseraPrincipal } from "@tessera/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService, PrincipalKind } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { ClientCertService } from "../packages/sdk/src/gen/tessera/v1/client_cert_pb.js";
import { AccountRole, UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { greetService } from "./consumer/greet-service.js";
import { makeTestCerts } from "./helpers/certs.js";
import { codeOf, expectCode } from "./helpers/outcome.js";
import { DB_KINDS, useTessera } from "./harness.js";
import type { TestServer } from "./helpers/server.js";

const certs = makeTestCerts();
const ca = certs.read(certs.caCert);
/** The bound key's certificate, another valid one of the same CA, and two mapped ones. */
const worker1 = certs.client;
const worker2 = certs.issueClient("worker-2");
const worker3 = certs.issueClient("worker-3");
const worker4 = certs.issueClient("worker-4");
const worker5 = certs.issueClient("worker-5");
const worker6 = certs.issueClient("worker-6");
const worker7 = certs.issueClient("worker-7");
const worker8 = certs.issueClient("worker-8");
const worker9 = certs.issueClient("worker-9");

type Id = { cert: string; key: string } | undefined;
const tlsOpts = (id: Id) => ({ ca, ...(id ? { cert: certs.read(id.cert), key: certs.read(id.key) } : {}) });

/** The RFC 8705 thumbprint of a PEM certificate file. */
function thumbprintOf(file: string): string {
  return createHash("sha256")
    .update(new X509Certificate(readFileSync(file)).raw)
    .digest("base64url");
}

function transports(port: number, id: Id): Record<string, Transport> {
  const baseUrl = `https://localhost:${port}`;
  return {
    "connect h2": createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions: tlsOpts(id) }),
    "connect http/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tlsOpts(id) }),
    grpc: createGrpcTransport({ baseUrl, nodeOptions: tlsOpts(id) }),
    "grpc-web": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: tlsOpts(id) }),
  };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** GetUserAccounts through Python's grpcio over TLS with `id` and the bearer `token`: "ok" or the status name. */
async function pythonGrpc(port: number, id: Id, token: string): Promise<string> {
  const script = `
import grpc, sys
root = open(sys.argv[2], "rb").read()
key = open(sys.argv[4], "rb").read() if sys.argv[4] else None
chain = open(sys.argv[3], "rb").read() if sys.argv[3] else None
creds = grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)
with grpc.secure_channel("localhost:" + sys.argv[1], creds) as ch:
    call = ch.unary_unary("/tessera.v1.UserAccountService/GetUserAccounts", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        call(b"", timeout=10, metadata=(("authorization", "Bearer " + sys.argv[5]),))
        print("ok")
    except grpc.RpcError as e:
        print(e.code().name)
`;
  const { stdout } = await promisify(execFile)("/usr/bin/python3", ["-c", script, String(port), certs.caCert, id?.cert ?? "", id?.key ?? "", token], {
    encoding: "utf8",
  });
  return stdout.trim();
}

/**
 * GetUserAccounts over HTTP/1.1 (Connect, JSON) from a TLS 1.2 connection presenting
 * `first`, renegotiated to present `then` before the request: the raw response, or
 * "renegotiation refused". Built from helpers/tls-renegotiate.c (no client library
 * renegotiates with another certificate).
 */
async function renegotiated(
  port: number,
  first: { cert: string; key: string },
  then: { cert: string; key: string } | undefined,
  http = "POST /tessera.v1.UserAccountService/GetUserAccounts HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
): Promise<string> {
  const bin = path.join(certs.dir, "tls-renegotiate");
  await promisify(execFile)("gcc", [path.join(import.meta.dirname, "helpers/tls-renegotiate.c"), "-o", bin, "-lssl", "-lcrypto"]);
  const request = path.join(certs.dir, `renegotiate-request-${randomBytes(4).toString("hex")}.txt`);
  writeFileSync(request, http);
  const args = [String(port), first.cert, first.key, then?.cert ?? "-", then?.key ?? "-", request];
  const out = await promisify(execFile)(bin, args, { encoding: "utf8" }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
  return out.stdout;
}

const inAMonth = () => timestampFromDate(new Date(Date.now() + 30 * 86_400_000));

describe.each(DB_KINDS)("mutual-TLS identities on %s", (db) => {
  const t = useTessera({ db, server: false });
  let server: TestServer;
  let baseUrl = "";
  let adminToken = "";
  let accountId = "";

  /** A client of `service` over TLS (Connect, HTTP/2) presenting `id`. */
  const client = <S extends Parameters<typeof createClient>[0]>(service: S, id: Id) =>
    createClient(service, createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions: tlsOpts(id) }));

  /** The server's tessera_authentications_total for these labels. */
  async function authentications(labels: Record<string, string>): Promise<number> {
    const metric = await server.app.deps.metrics.registry!.getSingleMetric("tessera_authentications_total")!.get();
    return metric.values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
  }

  beforeAll(async () => {
    server = await t.startServer({
      env: {
        AUTH_MODE: "full",
        TLS_CERT_PATH: certs.server.cert,
        TLS_KEY_PATH: certs.server.key,
        TLS_CLIENT_CA_PATH: certs.caCert,
        TLS_CLIENT_AUTH: "optional",
        METRICS_PORT: "0",
      },
    });
    baseUrl = `https://localhost:${server.port}`;
    const { tokens } = await client(AuthService, undefined).signUp({
      email: `mtls-${randomBytes(4).toString("hex")}@example.test`,
      password: "correct horse battery staple",
    });
    adminToken = tokens!.accessToken;
    accountId = (await client(UserAccountService, undefined).getUserAccounts({}, bearer(adminToken))).accounts[0]!.id;
  });

  it("bound key without its certificate: refused over Connect, gRPC, gRPC-web and grpcio; with it, it works", async () => {
    // Bound to the certificate presented on the creating request.
    const created = await client(ApiKeyService, worker1).createAccountApiKey(
      { accountId, name: `bound ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth(), bindToClientCert: true },
      bearer(adminToken),
    );
    expect(created.apiKey!.clientCertThumbprint).toBe(thumbprintOf(worker1.cert));
    const key = created.keyValue;
    for (const round of ["cold", "cached"]) {
      for (const [name, transport] of Object.entries(transports(server.port, worker1))) {
        const { accounts } = await createClient(UserAccountService, transport).getUserAccounts({}, bearer(key));
        expect(
          accounts.map((a) => a.id),
          `${round} ${name}`,
        ).toEqual([accountId]);
      }
      for (const [who, id] of [
        ["no certificate", undefined],
        ["another valid certificate", worker2],
      ] as const) {
        for (const [name, transport] of Object.entries(transports(server.port, id))) {
          await expectCode(createClient(UserAccountService, transport).getUserAccounts({}, bearer(key)), Code.Unauthenticated, /bound to a client certificate/);
          expect(name).toBeTruthy();
        }
        expect(await pythonGrpc(server.port, id, key), who).toBe("UNAUTHENTICATED");
      }
      expect(await pythonGrpc(server.port, worker1, key)).toBe("ok");
    }
    // CheckToken answers without the certificate (services checking the key ask from their own connection) and tells the binding.
    const check = await client(AuthService, undefined).checkToken({}, bearer(key));
    expect(check.clientCertThumbprint).toBe(thumbprintOf(worker1.cert));
    expect(check.principalKind).toBe(PrincipalKind.API_KEY);
    // Unbound keys are not affected by the certificate, or its absence.
    const plain = await client(ApiKeyService, undefined).createAccountApiKey(
      { accountId, name: `plain ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth() },
      bearer(adminToken),
    );
    expect(plain.apiKey!.clientCertThumbprint).toBe("");
    expect(await codeOf(client(UserAccountService, undefined).getUserAccounts({}, bearer(plain.keyValue)))).toBe("ok");
    expect(await codeOf(client(UserAccountService, worker2).getUserAccounts({}, bearer(plain.keyValue)))).toBe("ok");
    // Refusals count as refused API-key authentications (3 rounds of 4 transports and grpcio, per certificate case).
    expect(await authentications({ kind: "api_key", outcome: "refused" })).toBeGreaterThanOrEqual(20);
  });

  it("binds a key to an explicit thumbprint; a malformed thumbprint, or binding without a certificate, is InvalidArgument", async () => {
    const keys = client(ApiKeyService, undefined);
    const name = () => `k ${randomBytes(4).toString("hex")}`;
    const explicit = await keys.createAccountApiKey(
      { accountId, name: name(), expiresAt: inAMonth(), clientCertThumbprint: thumbprintOf(worker2.cert) },
      bearer(adminToken),
    );
    expect(explicit.apiKey!.clientCertThumbprint).toBe(thumbprintOf(worker2.cert));
    expect((await keys.getAccountApiKey({ id: explicit.apiKey!.id }, bearer(adminToken))).apiKey!.clientCertThumbprint).toBe(thumbprintOf(worker2.cert));
    expect(await codeOf(client(UserAccountService, worker2).getUserAccounts({}, bearer(explicit.keyValue)))).toBe("ok");
    expect(await codeOf(client(UserAccountService, worker1).getUserAccounts({}, bearer(explicit.keyValue)))).toBe(Code.Unauthenticated);
    for (const bad of [
      "abc",
      `${thumbprintOf(worker2.cert)}=`,
      thumbprintOf(worker2.cert).replace(/^./, "+"),
      createHash("sha1").update("x").digest("base64url"),
    ]) {
      await expectCode(
        keys.createAccountApiKey({ accountId, name: name(), expiresAt: inAMonth(), clientCertThumbprint: bad }, bearer(adminToken)),
        Code.InvalidArgument,
        /client_cert_thumbprint/,
      );
    }
    await expectCode(
      keys.createAccountApiKey({ accountId, name: name(), expiresAt: inAMonth(), bindToClientCert: true }, bearer(adminToken)),
      Code.InvalidArgument,
      /bind_to_client_cert/,
    );
    await expectCode(
      client(ApiKeyService, worker1).createAccountApiKey(
        { accountId, name: name(), expiresAt: inAMonth(), bindToClientCert: true, clientCertThumbprint: thumbprintOf(worker2.cert) },
        bearer(adminToken),
      ),
      Code.InvalidArgument,
    );
  });

  it("an embedding service (@tessera/connect on TLS with clientCertContextValues) refuses the bound key without its certificate", async () => {
    const key = (
      await client(ApiKeyService, worker1).createAccountApiKey(
        { accountId, name: `embedded ${randomBytes(4).toString("hex")}`, expiresAt: inAMonth(), bindToClientCert: true },
        bearer(adminToken),
      )
    ).keyValue;
    // The service reaches Tessera with its own certificate, not its callers'.
    const auth = createAuthInterceptor({
      tesseraUrl: baseUrl,
      transport: createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions: tlsOpts(worker2) }),
    });
    const greet = greetService();
    const handler = connectNodeAdapter({
      interceptors: [auth],
      contextValues: clientCertContextValues,
      routes: (router) =>
        router.service(greet, {
          greet: (_req: unknown, ctx: Parameters<typeof requireTesseraPrincipal>[0]) => {
            const p = requireTesseraPrincipal(ctx);
            return { greeting: "hello", userId: p.userId, kind: p.kind, via: p.via, accountId: p.accountId ?? "" };
          },
          health: () => ({ greeting: "ok" }),
        } as never),
    });
    const embedding = http2.createSecureServer(
      { cert: certs.read(certs.server.cert), key: certs.read(certs.server.key), ca, requestCert: true, rejectUnauthorized: false, allowHTTP1: true },
      handler,
    );
    const sessions = new Set<http2.ServerHttp2Session>();
    embedding.on("session", (sess) => {
      sessions.add(sess);
      sess.once("close", () => sessions.delete(sess));
    });
    await new Promise<void>((resolve) => embedding.listen(0, "127.0.0.1", resolve));
    const port = (embedding.address() as AddressInfo).port;
    try {
      const call = (id: Id, protocol: "connect" | "grpc") => {
        const opts = { baseUrl: `https://localhost:${port}`, nodeOptions: tlsOpts(id) };
        const transport = protocol === "grpc" ? createGrpcTransport(opts) : createConnectTransport({ ...opts, httpVersion: "2" });
        return (createClient(greet, transport) as unknown as Record<string, (r: unknown, o: unknown) => Promise<Record<string, string>>>).greet!(
          { name: "x" },
          bearer(key),
        );
      };
      for (const protocol of ["connect", "grpc"] as const) {
        expect((await call(worker1, protocol)).accountId, protocol).toBe(accountId);
        await expectCode(call(undefined, protocol), Code.Unauthenticated, /bound to a client certificate/);
        await expectCode(call(worker2, protocol), Code.Unauthenticated, /bound to a client certificate/);
        // A certificate of another CA does not verify at this server: as good as none.
        await expectCode(call(certs.otherCaClient, protocol), Code.Unauthenticated);
        // Warm (cached answer): the binding is kept with it.
        expect((await call(worker1, protocol)).accountId).toBe(accountId);
      }
    } finally {
      for (const sess of sessions) sess.destroy();
      await new Promise<void>((resolve) => embedding.close(() => resolve()));
      await auth.close();
    }
  });

  it("a client certificate mapped to a machine user calls like a scoped API key of the account, until the mapping is deleted", async () => {
    const mappings = client(ClientCertService, undefined);
    const byThumbprint = await mappings.createAccountClientCert(
      {
        accountId,
        name: `worker-3 ${randomBytes(4).toString("hex")}`,
        match: { case: "thumbprint", value: thumbprintOf(worker3.cert) },
        scopes: ["tessera.v1.UserAccountService/GetUserAccounts"],
      },
      bearer(adminToken),
    );
    expect(byThumbprint.clientCert!.match).toEqual({ case: "thumbprint", value: thumbprintOf(worker3.cert) });
    const bySan = await mappings.createAccountClientCert(
      { accountId, name: `worker-4 ${randomBytes(4).toString("hex")}`, match: { case: "subjectAltName", value: "URI:spiffe://example.test/worker-4" } },
      bearer(adminToken),
    );
    const listed = await mappings.listAccountClientCerts({ accountId }, bearer(adminToken));
    expect(listed.clientCerts.map((c) => c.id)).toEqual(expect.arrayContaining([byThumbprint.clientCert!.id, bySan.clientCert!.id]));

    // No Authorization header: the certificate is the credential.
    const certOk = await authentications({ kind: "client_cert", outcome: "ok" });
    for (const [name, transport] of Object.entries(transports(server.port, worker3))) {
      const { accounts } = await createClient(UserAccountService, transport).getUserAccounts({});
      expect(accounts, name).toEqual([expect.objectContaining({ id: accountId, role: AccountRole.VIEWER })]);
    }
    expect(await authentications({ kind: "client_cert", outcome: "ok" })).toBe(certOk + 4);
    const who = await client(AuthService, worker3).checkToken({});
    expect(who).toMatchObject({
      principalKind: PrincipalKind.API_KEY,
      accountId,
      userId: byThumbprint.clientCert!.userId,
      scopes: ["tessera.v1.UserAccountService/GetUserAccounts"],
    });
    // Its scopes are enforced as a key's, and what keys may never call stays closed.
    const lacking = await expectCode(client(UserAccountService, worker3).isUserInAccount({ accountId }), Code.PermissionDenied);
    expect(lacking.metadata.get("www-authenticate")).toContain("insufficient_scope");
    await expectCode(client(ApiKeyService, worker4).createAccountApiKey({ accountId, name: "minted", expiresAt: inAMonth() }), Code.PermissionDenied);
    await expectCode(client(ClientCertService, worker4).listAccountClientCerts({ accountId }), Code.PermissionDenied);
    expect((await client(UserAccountService, worker4).isUserInAccount({ accountId })).ok).toBe(true);
    // Unmapped, or no certificate at all: Unauthenticated.
    await expectCode(client(UserAccountService, worker2).getUserAccounts({}), Code.Unauthenticated);
    await expectCode(client(UserAccountService, undefined).getUserAccounts({}), Code.Unauthenticated);
    // A bearer wins over the certificate: the admin's token is the admin, whatever the connection.
    expect((await client(UserAccountService, worker3).getUserAccounts({}, bearer(adminToken))).accounts[0]!.role).toBe(AccountRole.ADMIN);

    // Deleted: refused (through the revocation log at once; the documented bound is the 30 s cache).
    await mappings.deleteAccountClientCert({ id: byThumbprint.clientCert!.id }, bearer(adminToken));
    let code: Code | "ok" = "ok";
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      code = await codeOf(client(UserAccountService, worker3).getUserAccounts({}));
      if (code !== "ok") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(code).toBe(Code.Unauthenticated);
    await expectCode(mappings.deleteAccountClientCert({ id: byThumbprint.clientCert!.id }, bearer(adminToken)), Code.NotFound);
    expect((await client(UserAccountService, worker4).getUserAccounts({})).accounts[0]!.id).toBe(accountId);
  });

  it("a certificate an account maps several ways: the most specific mapping wins, two of one kind are refused as ambiguous", async () => {
    const mappings = client(ClientCertService, undefined);
    const map = (account: string, match: Parameters<typeof mappings.createAccountClientCert>[0]["match"]) =>
      mappings.createAccountClientCert({ accountId: account, name: `w6 ${randomBytes(4).toString("hex")}`, match }, bearer(adminToken));
    const userOfWorker6 = async () => (await client(AuthService, worker6).checkToken({})).userId;
    const bySubject = await map(accountId, { case: "subject", value: "CN=worker-6" });
    expect(await userOfWorker6()).toBe(bySubject.clientCert!.userId);
    // A SAN mapping is more specific than the subject one.
    const bySan = await map(accountId, { case: "subjectAltName", value: "URI:spiffe://example.test/worker-6" });
    expect(await userOfWorker6()).toBe(bySan.clientCert!.userId);
    // A second SAN mapping: ambiguous, refused.
    const second = await map(accountId, { case: "subjectAltName", value: "URI:spiffe://example.test/worker-6" });
    await expectCode(client(UserAccountService, worker6).getUserAccounts({}), Code.Unauthenticated, /more than one mapping/);
    // A thumbprint mapping decides.
    const byThumbprint = await map(accountId, { case: "thumbprint", value: thumbprintOf(worker6.cert) });
    expect(await userOfWorker6()).toBe(byThumbprint.clientCert!.userId);
    for (const m of [bySubject, bySan, second, byThumbprint]) await mappings.deleteAccountClientCert({ id: m.clientCert!.id }, bearer(adminToken));
  });

  it("finding: another account's admin took over a mapped certificate with a more specific mapping", async () => {
    // Any user may sign up and administer an account of its own, and so map any certificate.
    const { tokens } = await client(AuthService, undefined).signUp({
      email: `mallory-${randomBytes(4).toString("hex")}@example.test`,
      password: "correct horse battery staple",
    });
    const mallory = tokens!.accessToken;
    const malloryAccount = (await client(UserAccountService, undefined).getUserAccounts({}, bearer(mallory))).accounts[0]!.id;
    const mappings = client(ClientCertService, undefined);
    const map = (account: string, token: string, match: Parameters<typeof mappings.createAccountClientCert>[0]["match"]) =>
      mappings.createAccountClientCert({ accountId: account, name: `m ${randomBytes(4).toString("hex")}`, match }, bearer(token));
    const accountsOf = async (id: Id) => (await client(UserAccountService, id).getUserAccounts({})).accounts.map((a) => a.id);

    // The victim's worker, mapped by subject.
    const victim7 = await map(accountId, adminToken, { case: "subject", value: "CN=worker-7" });
    expect(await accountsOf(worker7)).toEqual([accountId]);
    // Mallory's SAN and thumbprint mappings (more specific) never make it her machine user: refused, not hers.
    const bySan = await map(malloryAccount, mallory, { case: "subjectAltName", value: "URI:spiffe://example.test/worker-7" });
    await expectCode(accountsOf(worker7), Code.Unauthenticated, /more than one account/);
    const byThumbprint = await map(malloryAccount, mallory, { case: "thumbprint", value: thumbprintOf(worker7.cert) });
    await expectCode(accountsOf(worker7), Code.Unauthenticated, /more than one account/);
    // Nor by pushing the victim's mapping out of the rows read with many of her own.
    await map(accountId, adminToken, { case: "subject", value: "CN=worker-8" });
    expect(await accountsOf(worker8)).toEqual([accountId]);
    await map(malloryAccount, mallory, { case: "thumbprint", value: thumbprintOf(worker8.cert) });
    for (let i = 0; i < 16; i++) await map(malloryAccount, mallory, { case: "subjectAltName", value: "URI:spiffe://example.test/worker-8" });
    await expectCode(accountsOf(worker8), Code.Unauthenticated, /too many mappings/);
    // Once hers are gone, the victim's mapping works again.
    for (const m of [bySan, byThumbprint]) await mappings.deleteAccountClientCert({ id: m.clientCert!.id }, bearer(mallory));
    expect(await accountsOf(worker7)).toEqual([victim7.clientCert!.accountId]);
  });

  it("finding: a certificate presented by TLS renegotiation counted as verified", async () => {
    // The victim maps "CN=stranger"; the attacker holds a certificate of the CA (worker-9,
    // mapped in its own account) and a self-made one with that subject (here: another CA's).
    const team = (await client(UserAccountService, undefined).createTeamAccount({ name: `victim ${randomBytes(4).toString("hex")}` }, bearer(adminToken)))
      .account!.id;
    const mappings = client(ClientCertService, undefined);
    const name = () => `reneg ${randomBytes(4).toString("hex")}`;
    await mappings.createAccountClientCert({ accountId: team, name: name(), match: { case: "subject", value: "CN=stranger" } }, bearer(adminToken));
    await mappings.createAccountClientCert({ accountId, name: name(), match: { case: "subject", value: "CN=worker-9" } }, bearer(adminToken));
    // The helper works: worker-9 without renegotiating is its own mapping.
    const plain = await renegotiated(server.port, worker9, undefined);
    expect(plain).toMatch(/^HTTP\/1\.1 200 /);
    expect(plain).toContain(accountId);
    // Renegotiating to the unverifiable certificate never makes it the caller.
    const attack = await renegotiated(server.port, worker9, certs.otherCaClient);
    expect(attack).not.toContain(team);
    expect(attack).not.toMatch(/^HTTP\/1\.1 200 /);
  });

  it("finding: @tessera/connect's clientCertificateOf reported a renegotiated, unverified certificate as verified", async () => {
    // A plain Node HTTPS server (renegotiation allowed, as by default) asking for certificates of the CA.
    const embedding = https.createServer(
      { cert: certs.read(certs.server.cert), key: certs.read(certs.server.key), ca, requestCert: true, rejectUnauthorized: false },
      (req, res) => res.end(JSON.stringify(clientCertificateOf(req) ?? null)),
    );
    await new Promise<void>((resolve) => embedding.listen(0, "127.0.0.1", resolve));
    const port = (embedding.address() as AddressInfo).port;
    const get = "GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    try {
      expect(await renegotiated(port, worker9, undefined, get)).toContain(thumbprintOf(worker9.cert));
      const after = await renegotiated(port, worker9, certs.otherCaClient, get);
      expect(after).toMatch(/^HTTP\/1\.1 200 /);
      expect(after).not.toContain(thumbprintOf(certs.otherCaClient.cert));
      expect(after).not.toContain("stranger");
    } finally {
      await new Promise<void>((resolve) => embedding.close(() => resolve()));
    }
  });

  it("in AUTH_MODE=admin only the configured admin's mappings authenticate, as for API keys", async () => {
    await client(ClientCertService, undefined).createAccountClientCert(
      { accountId, name: `worker-5 ${randomBytes(4).toString("hex")}`, match: { case: "subject", value: "CN=worker-5" } },
      bearer(adminToken),
    );
    expect(await codeOf(client(UserAccountService, worker5).getUserAccounts({}))).toBe("ok");
    const adminMode = await t.startServer({
      env: {
        AUTH_MODE: "admin",
        AUTH_ADMIN_EMAIL: "root@example.test",
        AUTH_ADMIN_PASSWORD: "correct horse battery staple admin",
        TLS_CERT_PATH: certs.server.cert,
        TLS_KEY_PATH: certs.server.key,
        TLS_CLIENT_CA_PATH: certs.caCert,
        TLS_CLIENT_AUTH: "optional",
      },
    });
    try {
      const there = createClient(
        UserAccountService,
        createConnectTransport({ baseUrl: `https://localhost:${adminMode.port}`, httpVersion: "2", nodeOptions: tlsOpts(worker5) }),
      );
      await expectCode(there.getUserAccounts({}), Code.Unauthenticated, /AUTH_MODE=admin/);
    } finally {
      await adminMode.close();
    }
  });

  it("creating a mapping checks its match: a malformed thumbprint, an empty match or a SAN without a type is InvalidArgument", async () => {
    const mappings = client(ClientCertService, undefined);
    const create = (match: Parameters<typeof mappings.createAccountClientCert>[0]["match"]) =>
      mappings.createAccountClientCert({ accountId, name: `bad ${randomBytes(4).toString("hex")}`, match }, bearer(adminToken));
    await expectCode(create({ case: "thumbprint", value: "not-a-thumbprint" }), Code.InvalidArgument, /thumbprint/);
    await expectCode(create({ case: "thumbprint", value: `${thumbprintOf(worker3.cert)}A` }), Code.InvalidArgument, /thumbprint/);
    await expectCode(create({ case: undefined }), Code.InvalidArgument);
    await expectCode(create({ case: "subjectAltName", value: "spiffe" }), Code.InvalidArgument, /subject_alt_name/);
    await expectCode(create({ case: "subject", value: " " }), Code.InvalidArgument, /subject/);
    await expectCode(
      mappings.createAccountClientCert(
        { accountId, name: "unknown scope", match: { case: "subject", value: "CN=x" }, scopes: ["nope:never"] },
        bearer(adminToken),
      ),
      Code.InvalidArgument,
    );
  });
});
