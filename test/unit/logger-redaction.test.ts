import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactSecrets } from "../../packages/server/src/lib/logger.js";

function collect(): { lines: () => Record<string, unknown>[]; sink: Writable } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      raw.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  return { sink, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("log redaction", () => {
  it("censors secret-bearing keys at the first three levels, in objects and arrays, whatever their case", () => {
    const { sink, lines } = collect();
    const logger = createLogger({ json: true, level: "info", destination: sink });
    logger.info(
      {
        Password: "p-top",
        user: { refresh_token: "r-nested", name: "ann" },
        calls: [{ Authorization: "Bearer a-in-array" }],
        a: { b: { client_secret: "s-depth3" } },
      },
      "record",
    );
    const text = JSON.stringify(lines());
    for (const secret of ["p-top", "r-nested", "a-in-array", "s-depth3"]) expect(text).not.toContain(secret);
    const rec = lines()[0]!;
    expect(rec.Password).toBe("[redacted]");
    expect(rec.user).toEqual({ refresh_token: "[redacted]", name: "ann" });
  });

  it("never changes the caller's object and returns records without secrets untouched", () => {
    const clean = { procedure: "tessera.v1.AuthService/Login", code: "ok", nested: { n: 1 } };
    expect(redactSecrets(clean)).toBe(clean);
    const dirty = { token: "t", nested: { password: "p" } };
    const out = redactSecrets(dirty);
    expect(out).toEqual({ token: "[redacted]", nested: { password: "[redacted]" } });
    expect(dirty).toEqual({ token: "t", nested: { password: "p" } });
  });

  it("keeps an error's message and stack through pino's serializer", () => {
    const { sink, lines } = collect();
    createLogger({ json: true, level: "info", destination: sink }).error({ err: new Error("boom") }, "failed");
    const err = lines()[0]!.err as { message: string; stack: string };
    expect(err.message).toBe("boom");
    expect(err.stack).toContain("Error: boom");
  });
});
