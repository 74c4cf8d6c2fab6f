/**
 * `@tessera/connect` with the service's own verifiers beside Tessera's: `sk_...` keys
 * of the service are checked by its verifier and never reach Tessera; every other
 * token falls back to Tessera (here an in-memory fake answering CheckToken).
 */
import { describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { AuthService, PrincipalKind } from "@tessera/sdk/proto";
import { createAuthInterceptor, createTesseraAuthenticator, requireTesseraPrincipal, type CredentialVerifier } from "@tessera/connect";
import { errorOf } from "../helpers/outcome.js";
import { greetService } from "./greet-service.js";

const GreetService = greetService();

/** A fake Tessera that accepts `tsk_good...` and counts the tokens it was shown. */
function fakeTessera() {
  const seen: string[] = [];
  const transport = createRouterTransport((router) =>
    router.service(AuthService, {
      getAuthConfig: () => ({ issuer: "http://fake-tessera" }),
      checkToken(_req, ctx) {
        const token = (ctx.requestHeader.get("authorization") ?? "").slice(7);
        seen.push(token);
        if (!token.startsWith("tsk_good")) throw new ConnectError("invalid API key", Code.Unauthenticated);
        return { userId: "machine-1", principalKind: PrincipalKind.API_KEY, accountId: "acc-1", expiresAt: timestampFromDate(new Date(Date.now() + 3600_000)) };
      },
    }),
  );
  return { seen, transport };
}

/** The service's own keys: `sk_live_ada` is valid, `sk_expired` expired, `sk_boom` breaks, `sk_denied` is refused. */
const serviceKeys: CredentialVerifier = {
  name: "service-keys",
  match: (token) => token.startsWith("sk_"),
  async verify(token) {
    if (token === "sk_live_ada") return { userId: "svc-user-ada", accountId: "tenant-7", attributes: { scopes: ["read"] } };
    if (token === "sk_expired") return { userId: "svc-user-old", expiresAt: new Date(Date.now() - 1000) };
    if (token === "sk_boom") throw new Error("database password is hunter2");
    if (token === "sk_denied") throw new ConnectError("key suspended", Code.PermissionDenied);
    return undefined;
  },
};

describe("@tessera/connect verifiers", () => {
  it("checks the service's own keys with its verifier, never showing them to Tessera", async () => {
    const tessera = fakeTessera();
    const auth = createTesseraAuthenticator({ tesseraUrl: "http://unused.invalid", transport: tessera.transport, verifiers: [serviceKeys] });
    const p = await auth.authenticate("Bearer sk_live_ada");
    expect(p).toEqual({
      userId: "svc-user-ada",
      kind: "custom",
      accountId: "tenant-7",
      expiresAt: undefined,
      via: "verifier",
      verifier: "service-keys",
      attributes: { scopes: ["read"] },
    });
    const bad = await errorOf(auth.authenticate("Bearer sk_unknown"));
    expect(bad.code).toBe(Code.Unauthenticated);
    expect(bad.metadata.get("www-authenticate")).toBe('Bearer realm="tessera", error="invalid_token"');
    expect((await errorOf(auth.authenticate("Bearer sk_expired"))).rawMessage).toBe("credential expired");
    expect(tessera.seen).toEqual([]);
  });

  it("falls back to Tessera for every token no verifier matches", async () => {
    const tessera = fakeTessera();
    const auth = createTesseraAuthenticator({ tesseraUrl: "http://unused.invalid", transport: tessera.transport, verifiers: [serviceKeys] });
    expect(await auth.authenticate("Bearer tsk_good1")).toMatchObject({ userId: "machine-1", kind: "api_key", via: "introspection" });
    expect((await errorOf(auth.authenticate("Bearer tsk_bad"))).code).toBe(Code.Unauthenticated);
    expect(tessera.seen).toEqual(["tsk_good1", "tsk_bad"]);
  });

  it("passes a verifier's ConnectError through and hides any other failure behind Internal", async () => {
    const auth = createTesseraAuthenticator({ tesseraUrl: "http://unused.invalid", transport: fakeTessera().transport, verifiers: [serviceKeys] });
    const denied = await errorOf(auth.authenticate("Bearer sk_denied"));
    expect([denied.code, denied.rawMessage]).toEqual([Code.PermissionDenied, "key suspended"]);
    const boom = await errorOf(auth.authenticate("Bearer sk_boom"));
    expect(boom.code).toBe(Code.Internal);
    expect(boom.rawMessage).toBe('credential verifier "service-keys" failed');
  });

  it("lets the first matching verifier decide", async () => {
    const calls: string[] = [];
    const first: CredentialVerifier = {
      name: "first",
      match: (t) => t.startsWith("sk_a"),
      verify: () => {
        calls.push("first");
        return undefined;
      },
    };
    const second: CredentialVerifier = {
      name: "second",
      match: (t) => t.startsWith("sk_"),
      verify: () => {
        calls.push("second");
        return { userId: "u2" };
      },
    };
    const auth = createTesseraAuthenticator({ tesseraUrl: "http://unused.invalid", transport: fakeTessera().transport, verifiers: [first, second] });
    expect((await errorOf(auth.authenticate("Bearer sk_abc"))).code).toBe(Code.Unauthenticated);
    expect((await auth.authenticate("Bearer sk_zzz")).verifier).toBe("second");
    expect(calls).toEqual(["first", "second"]);
  });

  it("hands a verified caller to the handlers of a Connect service", async () => {
    const tessera = fakeTessera();
    const interceptor = createAuthInterceptor({ tesseraUrl: "http://unused.invalid", transport: tessera.transport, verifiers: [serviceKeys] });
    const service = createRouterTransport(
      (router) =>
        router.service(GreetService, {
          greet(req: { name: string }, ctx: HandlerContext) {
            const p = requireTesseraPrincipal(ctx);
            return { greeting: `hello ${req.name}`, userId: p.userId, kind: p.kind, via: p.via };
          },
        } as never),
      { router: { interceptors: [interceptor] } },
    );
    const call = (token?: string) =>
      (
        createClient(GreetService, service) as unknown as {
          greet(r: { name: string }, o?: { headers?: Record<string, string> }): Promise<Record<string, string>>;
        }
      ).greet({ name: "ada" }, token ? { headers: { authorization: `Bearer ${token}` } } : undefined);
    expect(await call("sk_live_ada")).toMatchObject({ userId: "svc-user-ada", kind: "custom", via: "verifier" });
    expect(await call("tsk_good2")).toMatchObject({ userId: "machine-1", kind: "api_key", via: "introspection" });
    expect((await errorOf(call())).code).toBe(Code.Unauthenticated);
  });
});
