/**
 * docs/configuration.md against the schema in packages/server/src/config/: every declared
 * variable is documented, the page names no variable that does not exist, and its tables
 * are exactly what `npm run docs:config` renders from the schema (so they cannot drift).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SECTIONS, VARIABLES, VARIABLE_LIST } from "../packages/server/src/config/schema.js";
import { CONFIG_DOC, generatedPart, renderReference } from "../scripts/config-docs.js";

const doc = readFileSync(CONFIG_DOC, "utf8");
const names = new Set(VARIABLE_LIST.map((v) => v.name));

/** Names the page may mention that are not Tessera's variables, and why. */
const NOT_OURS: Record<string, string> = {
  NODE_EXTRA_CA_CERTS: "read by Node itself (a private CA for PostgreSQL TLS)",
  REFUSED_STREAM: "an HTTP/2 error code",
  ENHANCE_YOUR_CALM: "an HTTP/2 error code",
};

/** Every variable-like name in `md`: SCREAMING_SNAKE words (`DB_*` as a prefix) and the names in the tables' first column. */
function mentionedNames(md: string): Set<string> {
  const found = new Set(md.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:[A-Z0-9]+\b|\*)/g) ?? []);
  for (const m of md.matchAll(/^\| `([^`]+)` \|/gm)) found.add(m[1]!);
  return found;
}

describe("docs/configuration.md", () => {
  it("documents every variable of the schema in its section's table", () => {
    const part = generatedPart(doc);
    expect(part, "the GENERATED markers are missing").toBeDefined();
    const rows = [...part!.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    expect(
      rows.filter((n) => !names.has(n)),
      "rows for variables not in the schema",
    ).toEqual([]);
    expect(
      [...names].filter((n) => !rows.includes(n)),
      "schema variables without a row",
    ).toEqual([]);
    expect(new Set(rows).size, "a variable listed twice").toBe(rows.length);
  });

  it("names no variable that does not exist", () => {
    const unknown = [...mentionedNames(doc)].filter((n) => {
      if (n in NOT_OURS) return false;
      if (n.endsWith("*")) return !VARIABLE_LIST.some((v) => v.name.startsWith(n.slice(0, -1)));
      return !names.has(n);
    });
    expect(unknown).toEqual([]);
  });

  it("has exactly the tables the schema renders (run `npm run docs:config` after changing the schema)", () => {
    // Line by line, so a failure shows the rows that differ.
    expect(generatedPart(doc)?.split("\n")).toEqual(renderReference().split("\n"));
  });

  it("would catch a drift: a missing, an unknown or a changed variable", () => {
    const part = generatedPart(doc)!;
    const withoutPort = part.replace(/^\| `PORT` \|.*\n/m, "");
    expect(withoutPort).not.toBe(renderReference());
    expect(mentionedNames("set `TESSERA_PORT` and `DB_*`").has("TESSERA_PORT")).toBe(true);
    expect(mentionedNames("set `TESSERA_PORT` and `DB_*`").has("DB_*")).toBe(true);
    const changed = VARIABLE_LIST.map((v) => (v.name === "PORT" ? { ...v, default: 9090 } : v));
    expect(renderReference(changed)).not.toBe(part);
  });
});

describe("the configuration schema", () => {
  it("declares each variable once, under its own name, in a known section, with a one-line description", () => {
    for (const [key, v] of Object.entries(VARIABLES)) {
      expect(v.name, key).toBe(key);
      expect(Object.keys(SECTIONS), key).toContain(v.section);
      expect(v.description.length, key).toBeGreaterThan(5);
      expect(v.description, key).not.toMatch(/\n/);
      expect(v.defaultText ?? "", key).not.toMatch(/\n/);
    }
  });

  it("points shorthands at variables that exist, and lets no deprecated alias shadow a variable", () => {
    for (const v of VARIABLE_LIST) {
      if (v.shorthandFor !== undefined) expect(names.has(v.shorthandFor), v.name).toBe(true);
      for (const alias of v.aliases ?? []) expect(names.has(alias), `${v.name}: alias ${alias}`).toBe(false);
    }
    const aliases = VARIABLE_LIST.flatMap((v) => v.aliases ?? []);
    expect(new Set(aliases).size).toBe(aliases.length);
  });

  it("marks every password, client secret and credential-bearing URL as secret", () => {
    const secret = VARIABLE_LIST.filter((v) => v.secret).map((v) => v.name);
    expect(secret.sort()).toEqual([
      "AUTH_ADMIN_PASSWORD",
      "AUTH_API_CLIENT_SECRET",
      "AUTH_CLIENT_SECRET",
      "AUTH_GITHUB_CLIENT_SECRET",
      "AUTH_GOOGLE_CLIENT_SECRET",
      "AUTH_PROVIDERS",
      "DATABASE_LISTEN_URL",
      "DATABASE_URL",
      "DB_PASS",
      "MFA_ENCRYPTION_KEY",
      "MFA_ENCRYPTION_KEY_PREVIOUS",
      "OTEL_EXPORTER_OTLP_HEADERS",
      "REDIS_URL",
      "SMTP_URL",
      "TLS_KEY",
    ]);
    // Values used as written (spaces kept) are the secrets typed by hand.
    for (const v of VARIABLE_LIST) if (v.parser.verbatim) expect(secret, v.name).toContain(v.name);
  });
});
