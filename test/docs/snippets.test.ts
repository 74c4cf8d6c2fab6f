/**
 * The code snippets of docs/sdk.md, as written, against a real Tessera: the SDK script runs
 * as a plain `node` ES module in a project of its own, and the embedding snippet's options
 * accept a Tessera access token (with the `audience` line left commented out) and, with it
 * uncommented against a Tessera that does not set AUTH_JWT_AUDIENCE, refuse it saying which
 * audience was expected and which came. Also what docs/authentication.md says of the JWKS and
 * discovery documents: served in admin and full mode, 404 in none.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTessera } from "../harness.js";
import { outputOf } from "../helpers/tessera-cli.js";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createTesseraAuthenticator, type AuthInterceptorOptions } from "../../packages/connect/src/index.js";
import { createTesseraClient } from "../../packages/sdk/src/node.js";
import { codeBlocks, ROOT } from "./markdown.js";

const SDK_PAGE = "docs/sdk.md";

/** The page's one block of `lang` that contains `marker`. */
function snippet(lang: string, marker: string): string {
  const found = codeBlocks(SDK_PAGE).filter((b) => b.lang === lang && b.text.includes(marker));
  expect(found, `${SDK_PAGE}: one ${lang} block with ${marker}`).toHaveLength(1);
  return found[0]!.text;
}

/** The object literal passed to `createAuthInterceptor(...)` in the embedding snippet, evaluated with `env`. */
function interceptorOptions(text: string, env: Record<string, string>): AuthInterceptorOptions {
  const start = text.indexOf("createAuthInterceptor({") + "createAuthInterceptor(".length;
  const end = text.indexOf("\n});", start) + 2;
  expect(start).toBeGreaterThan(30);
  expect(end).toBeGreaterThan(start);
  return new Function("process", `return (${text.slice(start, end)});`)({ env }) as AuthInterceptorOptions;
}

function runNode(file: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return outputOf(
    spawn(process.execPath, [file], { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd, ...env }, stdio: ["ignore", "pipe", "pipe"] }),
  );
}

describe("docs/sdk.md against a real Tessera in AUTH_MODE=full", () => {
  const t = useTessera({ env: { AUTH_MODE: "full" } });
  let project: string;
  const email = `snippet-${randomBytes(4).toString("hex")}@example.test`;
  const password = `snippet pw ${randomBytes(12).toString("base64")}`;

  beforeAll(async () => {
    // A project of its own that has the packages installed (linked to this repository's).
    project = mkdtempSync(path.join(tmpdir(), "tessera-snippet-"));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(project, "node_modules"));
  });
  afterAll(async () => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("the SDK script runs as written with plain node: the key's CheckToken as JSON, then the user's accounts", async () => {
    const owner = createTesseraClient({ baseUrl: t.server.baseUrl });
    await owner.signUp(email, password);
    const accountId = (await owner.userAccounts.getUserAccounts({})).accounts[0]!.id;
    const created = await owner.apiKeys.createAccountApiKey({ accountId, name: "snippet", expiresAt: timestampFromDate(new Date(Date.now() + 86_400_000)) });

    writeFileSync(path.join(project, "whoami.mjs"), snippet("js", "createTesseraClient"));
    const run = await runNode("whoami.mjs", project, {
      TESSERA_API_URL: t.server.baseUrl,
      TESSERA_API_KEY: created.keyValue,
      TESSERA_EMAIL: email,
      TESSERA_PASSWORD: password,
    });
    expect(run.code, run.stderr).toBe(0);
    const [me, accounts] = run.stdout.trim().split("\n");
    expect(JSON.parse(me!)).toMatchObject({ principalKind: "PRINCIPAL_KIND_API_KEY", accountId, apiKeyId: created.apiKey!.id });
    expect(JSON.parse(me!).expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(accounts).toMatch(/^\[ '[^']+' \]$/); // console.log of one account name
  });

  it("the embedding snippet's options, pasted as they are, accept a Tessera access token", async () => {
    const client = createTesseraClient({ baseUrl: t.server.baseUrl });
    const tokens = await client.signIn(email, password);
    const opts = interceptorOptions(snippet("ts", "createAuthInterceptor"), { TESSERA_URL: t.server.baseUrl });
    expect(opts.audience).toBeUndefined();
    const principal = await createTesseraAuthenticator(opts).authenticate(`Bearer ${tokens.accessToken}`);
    expect(principal).toMatchObject({ userId: tokens.userId, kind: "user", via: "jwt" });
  });

  it("with its audience line uncommented, a Tessera token is refused, naming the audience expected and the one that came", async () => {
    const client = createTesseraClient({ baseUrl: t.server.baseUrl });
    const tokens = await client.signIn(email, password);
    const text = snippet("ts", "createAuthInterceptor").replace("// audience:", "audience:");
    const opts = interceptorOptions(text, { TESSERA_URL: t.server.baseUrl });
    expect(opts.audience).toBe("https://api.example.com");
    const err = await createTesseraAuthenticator(opts)
      .authenticate(`Bearer ${tokens.accessToken}`)
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    expect((err as ConnectError).rawMessage).toBe(
      `invalid access token: audience expected "https://api.example.com", got "${t.server.app.config.publicUrl}" ` +
        "(set the interceptor's audience to Tessera's AUTH_JWT_AUDIENCE; leave it unset when that is unset)",
    );
  });

  it("serves the JWKS and discovery documents (admin and full mode)", async () => {
    const discovery = await fetch(`${t.server.baseUrl}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const issuer = t.server.app.config.publicUrl; // TESSERA_PUBLIC_URL: here from the configured port 0
    expect(await discovery.json()).toMatchObject({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` });
    const jwks = await fetch(`${t.server.baseUrl}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
  });
});

describe("docs/authentication.md: AUTH_MODE=none signs no tokens", () => {
  const t = useTessera({ env: { AUTH_MODE: "none" } });

  it("answers 404 for the JWKS and discovery documents", async () => {
    for (const doc of ["openid-configuration", "jwks.json"]) {
      const res = await fetch(`${t.server.baseUrl}/.well-known/${doc}`);
      expect(res.status, doc).toBe(404);
    }
  });
});
