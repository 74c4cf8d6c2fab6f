/**
 * The benchmark's peer: Better Auth 1.7 with its API-key plugin (`@better-auth/api-key`,
 * per-key rate limit off) on the bench's PostgreSQL database, in its own process,
 * behind a plain node:http server. Run by bench/run.ts as a child process:
 *
 *   PEER_DATABASE_URL=postgres://... PEER_PORT=0 tsx bench/peer-better-auth.ts
 *
 * It creates its tables with Better Auth's programmatic migrations, creates one user
 * and `PEER_KEYS` API keys through `auth.api.createApiKey`, then prints one JSON line
 * `{"ready":true,"port":...,"keys":[...]}` on stdout and serves:
 * - `POST /api/auth/api-key/verify` with `{"key":"..."}`: `auth.api.verifyApiKey`
 *   (Better Auth marks that endpoint server-only, so its router does not expose it;
 *   this is how an application exposes it). 200 with the result when valid, 401 otherwise.
 * - everything else under `/api/auth/*`: Better Auth's own `toNodeHandler`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { apiKey } from "@better-auth/api-key";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import pg from "pg";

const databaseUrl = process.env.PEER_DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write("PEER_DATABASE_URL is required\n");
  process.exit(2);
}
const port = Number(process.env.PEER_PORT ?? "0");
const keyCount = Number(process.env.PEER_KEYS ?? "1");

// Same pool size as Tessera's (src/store/db.ts).
const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });

const options = {
  database: pool,
  baseURL: `http://127.0.0.1:${port || 3000}`,
  secret: "bench-secret-0123456789abcdef0123456789abcdef",
  emailAndPassword: { enabled: true },
  // Better Auth's own per-IP limiter is for its browser endpoints; verification is server-side.
  rateLimit: { enabled: false },
  logger: { disabled: true },
  telemetry: { enabled: false },
  plugins: [apiKey({ rateLimit: { enabled: false } })],
};

async function main(): Promise<void> {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const auth = betterAuth(options);

  const email = `peer-${process.pid}-${Date.now()}@example.test`;
  const signUp = await auth.api.signUpEmail({ body: { email, password: "peer-password-0123456789", name: "peer" } });
  const userId = signUp.user.id;
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const created = await auth.api.createApiKey({ body: { userId, name: `bench-${i}`, rateLimitEnabled: false } });
    keys.push(created.key);
  }

  const handler = toNodeHandler(auth);
  const server = http.createServer((req, res) => {
    if (req.method === "POST" && req.url === "/api/auth/api-key/verify") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        let key = "";
        try {
          key = String((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { key?: unknown }).key ?? "");
        } catch {
          /* answered below */
        }
        auth.api.verifyApiKey({ body: { key } }).then(
          (r) => {
            res.writeHead(r.valid ? 200 : 401, { "content-type": "application/json" });
            res.end(JSON.stringify(r));
          },
          (e: unknown) => {
            res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: String((e as Error).message) }));
          },
        );
      });
      return;
    }
    void handler(req, res);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const bound = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ ready: true, port: bound, keys })}\n`);

  const stop = () => {
    server.closeAllConnections();
    server.close(() => void pool.end().finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`peer failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
