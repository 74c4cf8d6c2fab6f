/**
 * Identity-provider configuration (issue 17): the general form (AUTH_PROVIDERS and
 * AUTH_PROVIDERS_FILE, secrets by variable name or file), the Everruns shorthands for
 * Google and GitHub, Neosync's single provider unchanged as `default`, and one error
 * naming the variable and the provider for every bad setting.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type GithubConfig, type OidcConfig } from "../packages/server/src/config/config.js";

const base = { AUTH_MODE: "full", TESSERA_DATA_DIR: "memory://" };
const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });

function configError(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("no ConfigError");
}

const keycloak = {
  id: "keycloak",
  kind: "oidc",
  name: "Company SSO",
  issuer: "https://sso.example.test/realms/acme",
  discovery_url: "http://keycloak:8080/realms/acme",
  client_id: "tessera",
  client_secret_env: "KC_SECRET",
  audiences: ["tessera-api"],
  algorithms: ["RS256", "ES256"],
  allowed_domains: ["Acme.test"],
  roles_claim: "realm_access.roles",
  admin_role: "tessera-admin",
};

describe("identity provider configuration", () => {
  it("keeps Neosync's single-provider variables working unchanged as the provider default", () => {
    const c = load({
      AUTH_BASEURL: "http://kc:8080/realms/x",
      AUTH_EXPECTED_ISS: "https://sso.test/realms/x",
      AUTH_AUDIENCE: "api,cli",
      AUTH_CLIENT_ID: "web",
      AUTH_CLIENT_SECRET: "s",
    });
    expect(c.providers).toHaveLength(1);
    expect(c.oidc).toBe(c.providers[0]);
    expect(c.oidc).toMatchObject({
      id: "default",
      kind: "oidc",
      baseUrl: "http://kc:8080/realms/x",
      expectedIssuer: "https://sso.test/realms/x",
      audiences: ["api", "cli"],
      clientId: "web",
      clientSecret: "s",
      requireVerifiedEmail: false,
      allowedDomains: [],
    });
  });

  it("reads any number of providers from AUTH_PROVIDERS, secrets by variable name or file", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-providers-"));
    writeFileSync(path.join(dir, "gh-secret"), "from-a-file\n");
    const github = {
      id: "gh-enterprise",
      kind: "github",
      client_id: "Iv1.abc",
      client_secret_file: path.join(dir, "gh-secret"),
      web_url: "https://ghe.example.test",
    };
    const c = load({ AUTH_PROVIDERS: JSON.stringify([keycloak, github]), KC_SECRET: "from-a-variable", AUTH_ALLOWED_REDIRECT_URIS: "https://app.test/cb" });
    expect(c.providers.map((p) => p.id)).toEqual(["keycloak", "gh-enterprise"]);
    const kc = c.providers[0] as OidcConfig;
    expect(kc).toMatchObject({
      name: "Company SSO",
      expectedIssuer: "https://sso.example.test/realms/acme",
      baseUrl: "http://keycloak:8080/realms/acme",
      clientSecret: "from-a-variable",
      audiences: ["tessera-api"],
      algorithms: ["RS256", "ES256"],
      allowedDomains: ["acme.test"],
      requireVerifiedEmail: true,
      roles: { claim: "realm_access.roles", adminValue: "tessera-admin" },
      redirectUris: ["https://app.test/cb"],
      checkHostedDomain: false,
    });
    const gh = c.providers[1] as GithubConfig;
    expect(gh).toMatchObject({
      kind: "github",
      name: "GitHub",
      clientSecret: "from-a-file",
      webUrl: "https://ghe.example.test",
      apiUrl: "https://ghe.example.test/api/v3",
    });
    expect(c.oidc).toBeUndefined();
  });

  it("reads the same array from the file AUTH_PROVIDERS_FILE names", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tessera-providers-"));
    const file = path.join(dir, "providers.json");
    writeFileSync(file, JSON.stringify([{ ...keycloak, client_secret_env: undefined, client_secret: "inline" }]));
    const c = load({ AUTH_PROVIDERS_FILE: file });
    expect(c.providers.map((p) => [p.id, p.clientSecret])).toEqual([["keycloak", "inline"]]);
  });

  it("configures google and github from the Everruns variables", () => {
    const c = load({
      AUTH_GOOGLE_CLIENT_ID: "g.apps.googleusercontent.com",
      AUTH_GOOGLE_CLIENT_SECRET: "gs",
      AUTH_GOOGLE_REDIRECT_URI: "https://app.test/auth/google/callback",
      AUTH_GOOGLE_ALLOWED_DOMAINS: "Example.com, @example.org",
      AUTH_GITHUB_CLIENT_ID: "Ov23",
      AUTH_GITHUB_CLIENT_SECRET: "hs",
      AUTH_GITHUB_REDIRECT_URI: "https://app.test/auth/github/callback",
    });
    const google = c.providers.find((p) => p.id === "google") as OidcConfig;
    expect(google).toMatchObject({
      kind: "oidc",
      name: "Google",
      expectedIssuer: "https://accounts.google.com",
      baseUrl: "https://accounts.google.com",
      audiences: [],
      allowedDomains: ["example.com", "example.org"],
      checkHostedDomain: true,
      requireVerifiedEmail: true,
      redirectUris: ["https://app.test/auth/google/callback"],
    });
    const github = c.providers.find((p) => p.id === "github") as GithubConfig;
    expect(github).toMatchObject({
      kind: "github",
      webUrl: "https://github.com",
      apiUrl: "https://api.github.com",
      redirectUris: ["https://app.test/auth/github/callback"],
    });
    expect(load({ AUTH_GOOGLE_CLIENT_ID: "g", AUTH_GOOGLE_CLIENT_SECRET: "s", AUTH_GOOGLE_ISSUER: "http://127.0.0.1:9/" }).providers[0]).toMatchObject({
      expectedIssuer: "http://127.0.0.1:9",
    });
  });

  it("reads no provider variable outside full mode", () => {
    expect(
      loadConfig({
        AUTH_MODE: "admin",
        AUTH_ADMIN_EMAIL: "a@b.test",
        AUTH_ADMIN_PASSWORD: "long enough password",
        TESSERA_DATA_DIR: "memory://",
        AUTH_PROVIDERS: "not json",
      }).providers,
    ).toEqual([]);
  });

  it.each([
    [{ AUTH_PROVIDERS: "{" }, "AUTH_PROVIDERS", /not valid JSON/],
    [{ AUTH_PROVIDERS: "{}" }, "AUTH_PROVIDERS", /JSON array/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, id: "Bad_Id" }]) }, "AUTH_PROVIDERS", /provider "Bad_Id": "id" must be/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, kind: "saml" }]) }, "AUTH_PROVIDERS", /provider "keycloak": "kind" must be "oidc" or "github"/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, audience: ["x"] }]) }, "AUTH_PROVIDERS", /provider "keycloak": unknown key "audience"/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, client_secret_env: "NOPE" }]) }, "AUTH_PROVIDERS", /client_secret_env names NOPE, which is not set/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, audiences: ["tessera"] }]) }, "AUTH_PROVIDERS", /audiences must not contain client_id/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, algorithms: ["HS256"] }]) }, "AUTH_PROVIDERS", /unsupported algorithm "HS256"/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, admin_role: undefined }]) }, "AUTH_PROVIDERS", /roles_claim and admin_role go together/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, issuer: "ftp://x" }]) }, "AUTH_PROVIDERS", /"issuer" must be an http\(s\) URL/],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, allowed_domains: ["not a domain"] }]) }, "AUTH_PROVIDERS", /allowed_domains/],
    [
      { AUTH_PROVIDERS: JSON.stringify([keycloak, { ...keycloak, issuer: "https://other.test" }]) },
      "AUTH_PROVIDERS",
      /provider id "keycloak" is also configured by AUTH_PROVIDERS/,
    ],
    [{ AUTH_PROVIDERS: JSON.stringify([{ ...keycloak, id: "kc2" }, keycloak]) }, "AUTH_PROVIDERS", /has the issuer .* of provider "kc2"/],
    [
      {
        AUTH_PROVIDERS: JSON.stringify([{ id: "github", kind: "github", client_id: "x", client_secret: "y" }]),
        AUTH_GITHUB_CLIENT_ID: "a",
        AUTH_GITHUB_CLIENT_SECRET: "b",
      },
      "AUTH_GITHUB_CLIENT_ID",
      /provider id "github" is also configured by AUTH_PROVIDERS/,
    ],
    [{ AUTH_PROVIDERS: JSON.stringify([{ id: "gh", kind: "github", client_id: "x" }]) }, "AUTH_PROVIDERS", /provider "gh": a client secret is required/],
    [{ AUTH_PROVIDERS_FILE: "/nonexistent/providers.json" }, "AUTH_PROVIDERS_FILE", /cannot read providers file/],
    [{ AUTH_GOOGLE_CLIENT_ID: "g" }, "AUTH_GOOGLE_CLIENT_SECRET", /required when AUTH_GOOGLE_CLIENT_ID is set/],
    [{ AUTH_GITHUB_CLIENT_ID: "g" }, "AUTH_GITHUB_CLIENT_SECRET", /required when AUTH_GITHUB_CLIENT_ID is set/],
  ])("stops startup with one line naming the variable: %j", (env, variable, message) => {
    const e = configError({ KC_SECRET: "s", ...env });
    expect(e.variable).toBe(variable);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain("\n");
  });
});
