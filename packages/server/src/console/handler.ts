/**
 * `/console`: the browser console, served by the server itself. Its browser code lives
 * in `web/`; a built package serves the bundle made at build time, the repository's
 * sources bundle it on the first request. Every response carries a strict
 * Content-Security-Policy.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../lib/logger.js";
import type { HttpHandler } from "../lib/http.js";

/** The console's URL prefix. */
const CONSOLE_PATH = "/console";

/** Where this module runs from: `dist/console` in a built package, `src/console` in the repository. */
const here = path.dirname(fileURLToPath(import.meta.url));
/** True when running from the built package, whose console assets were bundled at build time. */
const FROM_BUILD = path.basename(path.dirname(here)) === "dist";

/** Headers on every console response. */
const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  // The OpenID callback URL carries the authorization code: never send it anywhere.
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Bundles the console's browser code (`web/app.ts`) for the browser: at build time into
 * `dist/console/app.js` (scripts/build-package.mjs), and on first use when the server runs
 * from its TypeScript sources. esbuild is a development dependency only.
 */
async function bundleConsoleScript(): Promise<Uint8Array> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [path.join(here, "web", "app.ts")],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2020",
    minify: true,
    write: false,
    legalComments: "none",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.contents;
}

/** The console's page, script and stylesheet: prebuilt in a package, bundled from source in the repository. */
async function buildConsoleAssets(): Promise<Map<string, Asset>> {
  const dir = FROM_BUILD ? here : path.join(here, "web");
  const script = FROM_BUILD ? await readFile(path.join(here, "app.js")) : Buffer.from(await bundleConsoleScript());
  const asset = (body: Buffer, type: string): Asset => ({ body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
  const html = asset(await readFile(path.join(dir, "index.html")), "text/html; charset=utf-8");
  return new Map([
    ["/", html],
    ["/callback", html],
    // The signed-out pages reached from links in mail (docs/account-recovery.md).
    ["/verify-email", html],
    ["/forgot-password", html],
    ["/reset-password", html],
    // The approval page of device logins (RFC 8628's verification_uri).
    ["/device", html],
    ["/app.js", asset(script, "text/javascript; charset=utf-8")],
    ["/app.css", asset(await readFile(path.join(dir, "app.css")), "text/css; charset=utf-8")],
  ]);
}

/** Builds the /console handler; assets are built once, on first use. */
export function createConsoleHandler(logger: Pick<Logger, "error">): HttpHandler {
  let assets: Promise<Map<string, Asset>> | undefined;
  return async (req, res) => {
    const url = req.url ?? "";
    const pathname = url.split("?")[0]!;
    if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return false;
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      const r = res as http.ServerResponse;
      r.writeHead(status, { ...CONSOLE_SECURITY_HEADERS, ...headers });
      if (req.method === "HEAD" || body === undefined) r.end();
      else r.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }, "method not allowed\n");
      return true;
    }
    if (pathname === CONSOLE_PATH) {
      send(308, { location: `${CONSOLE_PATH}/${url.slice(pathname.length)}` });
      return true;
    }
    assets ??= buildConsoleAssets().catch((e: unknown) => {
      assets = undefined; // try again on the next request
      throw e;
    });
    let map: Map<string, Asset>;
    try {
      map = await assets;
    } catch (e) {
      logger.error({ err: e }, "building the console failed");
      send(500, { "content-type": "text/plain; charset=utf-8" }, "the console could not be built; see the server log\n");
      return true;
    }
    const a = map.get(pathname.slice(CONSOLE_PATH.length));
    if (!a) {
      send(404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
      return true;
    }
    const isHtml = a.type.startsWith("text/html");
    const headers = { "content-type": a.type, etag: a.etag, "cache-control": isHtml ? "no-store" : "no-cache" };
    if (!isHtml && req.headers["if-none-match"] === a.etag) {
      send(304, headers);
      return true;
    }
    send(200, { ...headers, "content-length": String(a.body.length) }, a.body);
    return true;
  };
}
