/**
 * The benchmark's embedding service: a Connect service (greet.v1.GreetService, described
 * at run time) that authenticates its callers with `@tessera/connect`, in its own
 * process, as a service embedding Tessera would run. Two HTTP/1.1 servers in this
 * process serve the same handler: one behind `createAuthInterceptor`, one without
 * authentication (the baseline). Run by the bench as a child process:
 *
 *   EMBED_TESSERA_URL=http://127.0.0.1:PORT [EMBED_WATCH_CREDENTIAL=tsk_...] tsx bench/embed-service.ts
 *
 * With EMBED_WATCH_CREDENTIAL the interceptor subscribes to the revocation stream (the
 * recommended setup); without it, it runs as 0.2 did (5 s CheckToken cache). Prints one
 * JSON line `{"ready":true,"authPort":...,"openPort":...}`, and serves `GET /stats` on
 * the authenticated port: CheckToken calls made to Tessera so far, and the stream's status.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { createAuthInterceptor, tesseraPrincipalKey } from "@tessera/connect";
import { greetService } from "../test/consumer/greet-service.js";

const tesseraUrl = process.env.EMBED_TESSERA_URL;
if (!tesseraUrl) {
  process.stderr.write("EMBED_TESSERA_URL is required\n");
  process.exit(2);
}
const watch = process.env.EMBED_WATCH_CREDENTIAL;
const GreetService = greetService();

let checkTokenCalls = 0;
const counting: Interceptor = (next) => (req) => {
  if (req.method.name === "CheckToken") checkTokenCalls++;
  return next(req);
};
const transport = createConnectTransport({ baseUrl: tesseraUrl, httpVersion: "1.1", interceptors: [counting] });
const auth = createAuthInterceptor({
  tesseraUrl,
  transport,
  ...(watch ? { revocation: { credential: watch, subscriberName: "bench embedding service", log: (m: string) => process.stderr.write(`${m}\n`) } } : {}),
});

const routes = (router: Parameters<NonNullable<Parameters<typeof connectNodeAdapter>[0]["routes"]>>[0]) =>
  router.service(GreetService, {
    greet(req: { name: string }, ctx: { values: { get: (k: typeof tesseraPrincipalKey) => { userId: string; kind: string; via: string } | undefined } }) {
      const p = ctx.values.get(tesseraPrincipalKey);
      return { greeting: `hello ${req.name}`, userId: p?.userId ?? "", kind: p?.kind ?? "", via: p?.via ?? "" };
    },
  } as never);

const authed = connectNodeAdapter({ routes, interceptors: [auth] });
const open = connectNodeAdapter({ routes });

const authServer = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    const s = auth.revocationStatus();
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ checkTokenCalls, stream: s ? { ...s, appliedSequence: String(s.appliedSequence) } : null }));
    return;
  }
  authed(req, res);
});
const openServer = http.createServer(open);
const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
const [authPort, openPort] = [await listen(authServer), await listen(openServer)];
process.stdout.write(`${JSON.stringify({ ready: true, authPort, openPort })}\n`);

const shutdown = () => {
  void auth.close();
  authServer.close();
  openServer.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
