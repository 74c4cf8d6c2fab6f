/**
 * Issue 20: OpenTelemetry traces, checked with an in-process exporter. A login is a
 * SERVER span with database and argon2 children; an API-key check names the principal
 * kind; a caller's `traceparent` is continued; every log line inside an RPC carries its
 * trace id; no span attribute holds a credential.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { describe, expect, it } from "vitest";
import { ApiKeyService } from "../packages/sdk/src/gen/tessera/v1/api_key_pb.js";
import { AuthService } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import { UserAccountService } from "../packages/sdk/src/gen/tessera/v1/user_account_pb.js";
import { DB_KINDS, useTessera } from "./harness.js";

const children = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const rpcSpan = (spans: ReadableSpan[], procedure: string) => spans.filter((s) => s.name === procedure && s.kind === SpanKind.SERVER).at(-1);

describe.each(DB_KINDS)("traces on %s", (db) => {
  const t = useTessera({ db, server: false, forwardedFor: true });

  it("makes the span tree of a login and of an API-key check, continues traceparent, and puts the trace id in log lines", async () => {
    const exporter = new InMemorySpanExporter();
    const server = await t.startServer({ env: { AUTH_MODE: "full" }, spanExporter: exporter });
    try {
      const user = await t.signUp({ server });
      exporter.reset();

      // A login: SERVER span, argon2 verification and database queries under it.
      await t.clientOf(server, AuthService).login({ email: user.email, password: user.password });
      const login = rpcSpan(exporter.getFinishedSpans(), "tessera.v1.AuthService/Login");
      expect(login).toBeDefined();
      expect(login!.attributes).toMatchObject({
        "rpc.system": "connect_rpc",
        "rpc.service": "tessera.v1.AuthService",
        "rpc.method": "Login",
        "rpc.connect_rpc.status": "ok",
      });
      const under = children(exporter.getFinishedSpans(), login!);
      expect(under.filter((s) => s.name === "argon2.verify")).toHaveLength(1);
      expect(under.filter((s) => s.name === "db.query").length).toBeGreaterThan(0);
      expect(under.find((s) => s.name === "db.query")!.attributes["db.system.name"]).toBe(db === "postgres" ? "postgresql" : "pglite");

      // An API-key check: the principal kind, a database read on the first use, none on the cached second.
      const { accounts } = await t.clientOf(server, UserAccountService, { token: user.accessToken }).getUserAccounts({});
      const { keyValue } = await t.clientOf(server, ApiKeyService, { token: user.accessToken }).createAccountApiKey({
        accountId: accounts[0]!.id,
        name: "traced",
        expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)),
      });
      exporter.reset();
      await t.clientOf(server, AuthService, { token: keyValue }).checkToken({});
      const first = rpcSpan(exporter.getFinishedSpans(), "tessera.v1.AuthService/CheckToken")!;
      expect(first.attributes["tessera.principal.kind"]).toBe("api_key");
      expect(children(exporter.getFinishedSpans(), first).some((s) => s.name === "db.query")).toBe(true);
      exporter.reset();
      await t.clientOf(server, AuthService, { token: keyValue }).checkToken({});
      const cached = rpcSpan(exporter.getFinishedSpans(), "tessera.v1.AuthService/CheckToken")!;
      expect(children(exporter.getFinishedSpans(), cached).filter((s) => s.name === "db.query")).toHaveLength(0);

      // A refused call: the code on the span, not an error status (the caller's fault).
      exporter.reset();
      await expect(t.clientOf(server, AuthService, { token: "not-a-token" }).checkToken({})).rejects.toThrow();
      const refused = rpcSpan(exporter.getFinishedSpans(), "tessera.v1.AuthService/CheckToken")!;
      expect(refused.attributes["rpc.connect_rpc.error_code"]).toBe("unauthenticated");
      expect(refused.status.code).not.toBe(2);

      // The caller's trace is continued.
      exporter.reset();
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const parentId = "00f067aa0ba902b7";
      await t.clientOf(server, AuthService, { headers: { traceparent: `00-${traceId}-${parentId}-01` } }).getAuthConfig({});
      const continued = rpcSpan(exporter.getFinishedSpans(), "tessera.v1.AuthService/GetAuthConfig")!;
      expect(continued.spanContext().traceId).toBe(traceId);
      expect(continued.parentSpanContext?.spanId).toBe(parentId);
      const line = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "rpc" && l.trace_id === traceId);
      expect(line).toMatchObject({ procedure: "tessera.v1.AuthService/GetAuthConfig", span_id: continued.spanContext().spanId });

      // No attribute anywhere holds a credential.
      const everything = JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes));
      for (const secret of [user.password, user.accessToken, user.refreshToken, keyValue]) expect(everything).not.toContain(secret);
    } finally {
      await server.close();
    }
  });
});

describe("traces off", () => {
  const t = useTessera({ db: "pglite", env: { AUTH_MODE: "full" } });

  it("puts no trace ids in log lines when OTEL_TRACES_EXPORTER is none", async () => {
    await t.client(AuthService).getAuthConfig({});
    const rpcLines = t.server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "rpc");
    expect(rpcLines.length).toBeGreaterThan(0);
    expect(rpcLines.some((l) => "trace_id" in l)).toBe(false);
  });
});
