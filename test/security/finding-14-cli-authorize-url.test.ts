/**
 * Finding 14 (issue 13), CLI side: `tessera login` printed and opened whatever URL the
 * server's GetAuthorizeUrl returned. A stub Connect server (no Tessera) answers
 * GetAuthConfig with a provider and GetAuthorizeUrl with the URL the test chooses (keyed
 * by the `--provider` id each run passes, so runs can go in parallel); the
 * CLI runs as users run it (`node packages/server/bin/tessera.js login`, browser opening on), with a fake
 * `xdg-open` first on PATH that records what it was asked to open.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AuthMode, AuthService } from "../../packages/sdk/src/gen/tessera/v1/auth_pb.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(root, "packages", "server", "bin", "tessera.js");

describe("finding 14: tessera login opens only https: or loopback http: authorization URLs", () => {
  let stub: http.Server;
  let stubUrl = "";
  let home = "";
  let fakeBin = "";
  /** What GetAuthorizeUrl answers, by provider id. */
  const authorizeUrls = new Map<string, string>();
  let run = 0;
  /** CLI processes still running (killed in afterAll if a test failed midway). */
  const running = new Set<ChildProcess>();

  beforeAll(async () => {
    const routes = (router: ConnectRouter) =>
      router.service(AuthService, {
        getAuthConfig: () => ({
          mode: AuthMode.FULL,
          passwordLoginEnabled: false,
          // One provider per run (the CLI checks --provider against this list).
          oidcProviders: [...authorizeUrls.keys()].map((id) => ({ id, name: `Provider ${id}`, issuer: "https://login.example.test", clientId: "tessera" })),
          issuer: stubUrl,
        }),
        getAuthorizeUrl: (req) => ({ url: authorizeUrls.get(req.providerId) ?? "" }),
      });
    stub = http.createServer(connectNodeAdapter({ routes }));
    await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    home = mkdtempSync(path.join(tmpdir(), "tessera-f14-"));
    fakeBin = path.join(home, "bin");
    rmSync(fakeBin, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(fakeBin));
    // The Linux opener the CLI spawns; it records its arguments instead of opening anything.
    const opener = path.join(fakeBin, "xdg-open");
    writeFileSync(opener, '#!/bin/sh\nprintf "%s\\n" "$@" >> "$OPENER_LOG"\n');
    chmodSync(opener, 0o755);
  });
  afterAll(async () => {
    for (const child of running) child.kill();
    stub?.closeAllConnections();
    await new Promise<void>((r) => (stub ? stub.close(() => r()) : r()));
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Runs `tessera login` with the stub answering `url`; resolves when it exits (killed once `until` holds). */
  function login(url: string, until?: (stderr: string, opened: string) => boolean) {
    run++;
    authorizeUrls.set(`p${run}`, url);
    const openerLog = path.join(home, `opened-${run}.txt`);
    const child = spawn(process.execPath, [BIN, "login", "--provider", `p${run}`], {
      cwd: root,
      env: {
        PATH: `${fakeBin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: home,
        TESSERA_API_URL: stubUrl,
        TESSERA_CONFIG_DIR: path.join(home, `cfg-${run}`),
        LOGIN_PORT: "0",
        OPENER_LOG: openerLog,
        // A desktop session, so the CLI opens a browser (the stub) instead of falling back to the device login.
        DISPLAY: ":99",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    let stderr = "";
    const opened = () => (existsSync(openerLog) ? readFileSync(openerLog, "utf8") : "");
    return new Promise<{ code: number | null; stderr: string; opened: string }>((resolve, reject) => {
      const timer = setInterval(() => {
        if (until?.(stderr, opened())) {
          clearInterval(timer);
          child.kill();
        }
      }, 50);
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => {
        running.delete(child);
        clearInterval(timer);
        resolve({ code, stderr, opened: opened() });
      });
    });
  }

  it("finding 14: the CLI refuses javascript:, file:, data: and remote http: authorization URLs, and never opens them", async () => {
    const bad = [
      "javascript:alert(document.cookie)",
      "file:///etc/passwd",
      "data:text/html,<script>alert(1)</script>",
      "http://evil.example/auth?client_id=tessera",
      "http://127.0.0.1.evil.example/auth",
      "https://login.example.test@evil.example/auth",
      "not a url",
    ];
    // Stopped as soon as it prints or opens the URL (it would then wait 5 minutes for the callback).
    const results = await Promise.all(bad.map((url) => login(url, (stderr, opened) => opened !== "" || stderr.includes("Open this URL"))));
    for (const [i, r] of results.entries()) {
      const url = bad[i]!;
      expect(r.code, `${url}: ${r.stderr}`).toBe(1);
      expect(r.stderr, url).toMatch(
        /^tessera: refusing to open the authorization URL the server returned \(.+\): tessera login opens only https: URLs, or http: URLs on this machine/,
      );
      expect(r.stderr, url).not.toContain(url);
      expect(r.opened, url).toBe("");
    }
  }, 120_000);

  it("finding 14: the CLI prints and opens https: and loopback http: authorization URLs", async () => {
    const good = ["https://login.example.test/auth?client_id=tessera&state=s", "http://127.0.0.1:9/auth?x=1", "http://[::1]:9/auth", "http://localhost:9/auth"];
    const results = await Promise.all(good.map((url) => login(url, (_stderr, opened) => opened !== "")));
    for (const [i, r] of results.entries()) {
      const url = good[i]!;
      expect(r.opened, `${url}: ${r.stderr}`).toBe(`${url}\n`);
      expect(r.stderr).toContain(`  ${url}\n`);
    }
  }, 120_000);
});
