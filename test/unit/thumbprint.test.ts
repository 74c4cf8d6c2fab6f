/**
 * RFC 8705 thumbprints (`x5t#S256`): what counts as well formed, and the comparison.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isThumbprint, sameThumbprint } from "../../packages/server/src/auth/client-certs/thumbprint.js";

describe("certificate thumbprints", () => {
  it("accepts exactly the base64url SHA-256 digests", () => {
    for (let i = 0; i < 64; i++) expect(isThumbprint(randomBytes(32).toString("base64url"))).toBe(true);
    const good = createHash("sha256").update("cert").digest("base64url");
    for (const bad of [
      "",
      good.slice(1),
      `${good}A`,
      `${good}=`,
      createHash("sha256").update("cert").digest("base64"),
      createHash("sha1").update("cert").digest("base64url"),
      createHash("sha256").update("cert").digest("hex"),
      // 43 characters whose last one carries bits past the 256th: not a digest's encoding.
      `${good.slice(0, 42)}B`,
    ]) {
      expect(isThumbprint(bad), bad).toBe(false);
    }
  });

  it("compares thumbprints (absent never matches)", () => {
    const a = randomBytes(32).toString("base64url");
    const b = randomBytes(32).toString("base64url");
    expect(sameThumbprint(a, a)).toBe(true);
    expect(sameThumbprint(a, b)).toBe(false);
    expect(sameThumbprint(a, undefined)).toBe(false);
    expect(sameThumbprint(a, "")).toBe(false);
  });
});
