/**
 * The cheap abort reason `tessera serve` installs: reasonless aborts keep their
 * observable meaning (aborted, a fresh AbortError DOMException each time) without a
 * captured stack trace; explicit reasons pass through; installing twice is harmless;
 * fetch still cancels. (The patch is global; vitest runs each test file in its own process.)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { installCheapAbortReason } from "../packages/server/src/server/abort-reason.js";

describe("installCheapAbortReason", () => {
  it("gives each reasonless abort its own AbortError without a stack trace, and leaves explicit reasons alone", () => {
    const before = new AbortController();
    before.abort();
    expect((before.signal.reason as Error).stack).toMatch(/\n\s+at /);

    installCheapAbortReason();
    const patched = AbortController.prototype.abort;
    installCheapAbortReason();
    expect(AbortController.prototype.abort).toBe(patched);

    const seen: unknown[] = [];
    const a = new AbortController();
    const b = new AbortController();
    a.signal.addEventListener("abort", () => seen.push(a.signal.reason));
    a.abort();
    b.abort();
    const reason = a.signal.reason as DOMException;
    expect(a.signal.aborted).toBe(true);
    expect(seen).toEqual([reason]);
    expect(reason).toBeInstanceOf(DOMException);
    expect(reason.name).toBe("AbortError");
    expect(reason.message).toBe("This operation was aborted");
    expect(reason.stack).toBe("AbortError: This operation was aborted");
    expect(b.signal.reason).not.toBe(reason);
    expect(() => a.signal.throwIfAborted()).toThrow(reason);
    // Stack traces everywhere else are untouched.
    expect(new Error("x").stack).toMatch(/\n\s+at /);

    const c = new AbortController();
    const mine = new Error("mine");
    c.abort(mine);
    expect(c.signal.reason).toBe(mine);
    const d = new AbortController();
    d.abort(null);
    expect(d.signal.reason).toBeNull();
    // A second abort changes nothing.
    c.abort();
    expect(c.signal.reason).toBe(mine);
  });

  it("still cancels a real fetch with an AbortError", async () => {
    installCheapAbortReason();
    const server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const ctrl = new AbortController();
      const pending = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { signal: ctrl.signal });
      setTimeout(() => ctrl.abort(), 20);
      await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
