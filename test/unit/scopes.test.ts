/**
 * API-key scopes from the contract (`@tessera/sdk` scopes): parsing, what each form
 * grants (read from generated descriptors: Tessera's own and the test-only
 * jobs.v1.JobsService of test/proto), and that every RPC of Tessera's services has a
 * resolvable scope.
 */
import { describe, expect, it } from "vitest";
import type { DescMethod } from "@bufbuild/protobuf";
import {
  compileScopes,
  DECLARED_SCOPE_PATTERN,
  declaredScope,
  insufficientScopeChallenge,
  parseScope,
  procedureScope,
  scopeGrants,
  scopesOf,
} from "@tessera/sdk";
import { JobsService } from "../gen/jobs/v1/jobs_pb.js";
import { TESSERA_SERVICES } from "../../packages/server/src/auth/policy/services.js";
import { POLICY, policyKey } from "../../packages/server/src/auth/policy/policy.js";
import { AuthService, RevocationService, UserAccountService } from "@tessera/sdk/proto";

const jobs = (name: string): DescMethod => JobsService.methods.find((m) => m.name === name)!;

describe("scope syntax", () => {
  it("parses the five forms and nothing else", () => {
    expect(parseScope("jobs:read")).toEqual({ kind: "declared", scope: "jobs:read" });
    expect(parseScope("jobs.v1.JobsService/CreateJob")).toEqual({ kind: "procedure", service: "jobs.v1.JobsService", method: "CreateJob" });
    expect(parseScope("jobs.v1.JobsService/*")).toEqual({ kind: "service", service: "jobs.v1.JobsService" });
    expect(parseScope("jobs.v1.JobsService:read")).toEqual({ kind: "read", service: "jobs.v1.JobsService" });
    expect(parseScope("*:read")).toEqual({ kind: "read", service: undefined });
    for (const bad of [
      "",
      "*",
      "*/*",
      "jobs",
      "Jobs:read",
      "jobs:Read",
      "jobs:read:x",
      "a/b/c",
      "jobs.v1.JobsService:write",
      " jobs:read",
      "x".repeat(301),
      "jobs.v1.JobsService/Create-Job",
    ]) {
      expect(parseScope(bad), bad).toBeUndefined();
    }
  });
});

describe("what a scope grants", () => {
  it("reads the declared option and the idempotency level from the generated descriptor", () => {
    expect(declaredScope(jobs("ListJobs"))).toBe("jobs:read");
    expect(procedureScope(jobs("CreateJob"))).toBe("jobs:write");
    expect(declaredScope(jobs("CountJobs"))).toBeUndefined();
    expect(procedureScope(jobs("CountJobs"))).toBe("jobs.v1.JobsService/CountJobs");
  });

  it("grants by declared scope, procedure name, service wildcard and read-only shorthand", () => {
    const grants = (scope: string) =>
      JobsService.methods
        .filter((m) => scopeGrants(parseScope(scope)!, m))
        .map((m) => m.name)
        .sort();
    expect(grants("jobs:read")).toEqual(["ListJobs"]);
    expect(grants("jobs:write")).toEqual(["CreateJob"]);
    expect(grants("jobs.v1.JobsService/CreateJob")).toEqual(["CreateJob"]);
    expect(grants("jobs.v1.JobsService/*")).toEqual(["CountJobs", "CreateJob", "ListJobs"]);
    expect(grants("jobs.v1.JobsService:read")).toEqual(["CountJobs", "ListJobs"]);
    expect(grants("*:read")).toEqual(["CountJobs", "ListJobs"]);
    expect(grants("tessera.v1.AuthService/*")).toEqual([]);
    expect(grants("other:read")).toEqual([]);
  });

  it("compiles a key's scopes: empty is unrestricted, garbage grants nothing", () => {
    expect(compileScopes([]).restricted).toBe(false);
    expect(compileScopes([]).allows(jobs("CreateJob"))).toBe(true);
    const readOnly = compileScopes(["jobs:read", "not a scope"]);
    expect(readOnly.restricted).toBe(true);
    expect(readOnly.allows(jobs("ListJobs"))).toBe(true);
    expect(readOnly.allows(jobs("CreateJob"))).toBe(false);
    expect(compileScopes(["not a scope"]).allows(jobs("ListJobs"))).toBe(false);
  });

  it("names the missing scope in the RFC 6750 challenge", () => {
    expect(insufficientScopeChallenge(jobs("CreateJob"))).toBe('Bearer realm="tessera", error="insufficient_scope", scope="jobs:write"');
    expect(insufficientScopeChallenge(jobs("CountJobs"))).toBe('Bearer realm="tessera", error="insufficient_scope", scope="jobs.v1.JobsService/CountJobs"');
  });

  it("lists the scopes of services for pickers", () => {
    expect(scopesOf([JobsService])).toEqual([
      "*:read",
      "jobs.v1.JobsService/*",
      "jobs.v1.JobsService/CountJobs",
      "jobs.v1.JobsService/CreateJob",
      "jobs.v1.JobsService/ListJobs",
      "jobs.v1.JobsService:read",
      "jobs:read",
      "jobs:write",
    ]);
  });
});

describe("Tessera's own services", () => {
  const methods = TESSERA_SERVICES.flatMap((s) => s.methods);

  it("are every service in the policy table", () => {
    const inPolicy = new Set(Object.keys(POLICY).map((k) => k.slice(0, k.indexOf("/"))));
    expect([...inPolicy].sort()).toEqual(TESSERA_SERVICES.map((s) => s.name).sort());
  });

  it.each(methods.map((m) => [policyKey(m.parent.typeName, m.name), m] as const))("%s has a resolvable scope", (_key, m) => {
    const declared = declaredScope(m);
    if (declared !== undefined) expect(declared, "a declared scope must be name:verb").toMatch(DECLARED_SCOPE_PATTERN);
    const scope = procedureScope(m);
    const parsed = parseScope(scope);
    expect(parsed, scope).toBeDefined();
    expect(scopeGrants(parsed!, m)).toBe(true);
    // The full name always grants the procedure too.
    expect(scopeGrants(parseScope(`${m.parent.typeName}/${m.name}`)!, m)).toBe(true);
  });

  it("name the revocation stream's scope", () => {
    expect(RevocationService.methods.map(procedureScope)).toEqual(["revocations:watch", "revocations:watch", "revocations:watch"]);
    expect(procedureScope(AuthService.method.checkToken)).toBe("tessera.v1.AuthService/CheckToken");
    expect(compileScopes(["tessera.v1.UserAccountService:read"]).allows(UserAccountService.method.getUser)).toBe(true);
  });
});
