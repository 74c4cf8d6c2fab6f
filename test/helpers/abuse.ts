/**
 * Raw Connect JSON calls for abuse-limit tests: a call from a chosen client IP (through
 * X-Forwarded-For, so the server needs TRUST_PROXY_HOPS=1) that reports the outcome
 * instead of throwing, so a test can count refusals and read the `retry-after` hint.
 */
import type { TestServer } from "./server.js";

/** What one call answered. */
export interface CallOutcome {
  status: number;
  /** The Connect error code in snake case (`resource_exhausted`), or "ok". */
  code: string;
  /** The `retry-after` header in seconds, when present. */
  retryAfter: number | undefined;
  body: Record<string, unknown>;
}

/** POSTs `body` as JSON to `service/method` from client IP `ip` (when given). */
export async function callAs(server: TestServer, method: string, body: unknown, ip?: string, service = "AuthService"): Promise<CallOutcome> {
  const res = await fetch(`${server.baseUrl}/tessera.v1.${service}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(ip ? { "x-forwarded-for": ip } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  const ra = res.headers.get("retry-after");
  return {
    status: res.status,
    code: res.ok ? "ok" : String(json.code ?? `http_${res.status}`),
    retryAfter: ra === null ? undefined : Number(ra),
    body: json,
  };
}

/** Polls `probe` every 50 ms until it returns true or `limitMs` passes; resolves with the last answer. */
export async function pollUntil(probe: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
