/**
 * The one authentication interceptor for every service. It looks up the procedure's
 * rule (fail closed for unknown procedures), lets public procedures through, and
 * otherwise parses the bearer, asks the verifiers in turn, applies the
 * principal-level policy, refuses API keys whose scopes do not grant the procedure
 * (PermissionDenied, `error="insufficient_scope"`), refuses sessions without a second
 * factor where the MFA settings demand one, and puts the Principal under
 * `principalKey`. Mutual TLS: a request without an Authorization header is
 * authenticated by its verified client certificate when an account mapped it
 * (`clientCerts`), and an API key bound to a client certificate is refused
 * (Unauthenticated) unless the connection presented that certificate.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BoundedCache } from "../../lib/bounded-cache.js";
import { NO_METRICS, type Metrics } from "../../metrics/metrics.js";
import { annotateActiveSpan } from "../../tracing/spans.js";
import { looksLikeApiKey } from "../api-keys/format.js";
import type { AuthModeName } from "../../config/config.js";
import { parseBearer } from "./bearer.js";
import { insufficientScopeChallenge } from "@tessera/sdk";
import {
  CERT_BINDING_EXEMPT,
  checkPrincipal,
  policyKey,
  ruleFor,
  SCOPE_EXEMPT,
  SECOND_FACTOR_REQUIRED,
  secondFactorRequired,
  type SecondFactorPolicy,
} from "../policy/policy.js";
import { requestInfoKey, type ClientCertInfo, type RequestInfo } from "../../lib/request-info.js";
import { sameThumbprint } from "../client-certs/thumbprint.js";
import { ANONYMOUS_USER_ID } from "../../store/ids.js";
import { principalKey, type Principal } from "./principal.js";
import type { KeyLimits } from "../api-keys/limits.js";

/**
 * Verifies one kind of bearer token. Answers undefined when the token is not of its
 * kind (the next verifier is asked); Unauthenticated (a rejected promise) when it is of
 * its kind but invalid; the Principal otherwise. A verifier that knows the answer at once
 * (a cached API key) may give it as a value instead of a promise: the interceptor then
 * waits for nothing. It never throws synchronously.
 */
export interface CredentialVerifier {
  /** `request`: the caller's IP and user agent, when known (API keys record their last use). */
  verify(token: string, request?: RequestInfo): Principal | undefined | Promise<Principal | undefined>;
}

export interface AuthInterceptorOptions {
  mode: AuthModeName;
  verifiers: readonly CredentialVerifier[];
  /** Whether a user holds the instance-admin flag (for instance-admin procedures). */
  isInstanceAdmin: (userId: string) => Promise<boolean>;
  /** Whether an API key was created by a user who is an instance admin now (RevocationService). */
  keyMadeByInstanceAdmin?: (apiKeyId: string) => Promise<boolean>;
  /** Counts a call of a key with limits; throws (or returns a promise rejecting with) ResourceExhausted over them (abuse/key-limits.ts). */
  chargeApiKey?: (apiKeyId: string, limits: KeyLimits) => Promise<void> | undefined;
  /** Which procedures need a session that passed a second factor (default: none). */
  secondFactor?: SecondFactorPolicy;
  /** Authenticates requests without an Authorization header by their verified client certificate (auth/client-certs). */
  clientCerts?: { authenticate(cert: ClientCertInfo): Promise<Principal | undefined> };
  /** Counts authentications by credential kind and outcome (default: not counted). */
  metrics?: Pick<Metrics, "authentication" | "rateLimited">;
}

/** The credential kind metrics name for an accepted principal. */
const PRINCIPAL_KIND: Readonly<Record<Principal["kind"], string>> = {
  anonymous: "anonymous",
  user: "tessera_jwt",
  oidc_user: "provider_jwt",
  api_key: "api_key",
};

/** The metrics kind of an accepted principal. */
function principalKind(p: Principal): string {
  return p.kind === "api_key" && p.clientCertId !== undefined ? "client_cert" : PRINCIPAL_KIND[p.kind];
}

/** The kind of a refused credential, from its shape alone (never its content). */
function refusedKind(header: string | null, byCert: boolean): string {
  if (byCert) return "client_cert";
  const parsed = parseBearer(header);
  if (!parsed.ok) return parsed.reason;
  return looksLikeApiKey(parsed.token) ? "api_key" : "jwt";
}

const REALM = 'Bearer realm="tessera"';

/** An Unauthenticated error carrying the RFC 6750 WWW-Authenticate challenge. */
function unauthenticated(message: string, tokenPresented: boolean): ConnectError {
  const challenge = tokenPresented ? `${REALM}, error="invalid_token"` : REALM;
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": challenge });
}

/** A PermissionDenied error carrying `error="insufficient_scope"`. */
export function permissionDenied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied, { "www-authenticate": `${REALM}, error="insufficient_scope"` });
}

/** Tokens whose verifier is remembered (bounded; oldest forgotten first). */
const ROUTE_CACHE_MAX = 10_000;

/**
 * Remembers which verifier accepted a token, so a repeated token goes straight to its
 * verifier (and that verifier's own cache) instead of being routed through the ones
 * before it. The verifier still decides every time; this only skips the asking.
 */
export type VerifierRoutes = BoundedCache<string, CredentialVerifier>;

/** An empty, bounded VerifierRoutes. */
export function createVerifierRoutes(): VerifierRoutes {
  return new BoundedCache({ maxEntries: ROUTE_CACHE_MAX });
}

/** A verifier's refusal as the client sees it: Unauthenticated with the invalid_token challenge. */
function refusal(e: unknown): unknown {
  const ce = ConnectError.from(e);
  return ce.code === Code.Unauthenticated ? unauthenticated(ce.rawMessage, true) : e;
}

/** `v`'s answer for `token`, a value when it has one at once. */
function ask(v: CredentialVerifier, token: string, request: RequestInfo | undefined): Principal | undefined | Promise<Principal | undefined> {
  let got: Principal | undefined | Promise<Principal | undefined>;
  try {
    got = v.verify(token, request);
  } catch (e) {
    return Promise.reject(refusal(e));
  }
  return got instanceof Promise ? got.catch((e: unknown) => Promise.reject(refusal(e))) : got;
}

/**
 * Authenticates a bearer token with the verifiers; Unauthenticated (a rejected promise)
 * when none accepts it. A token whose verifier answered at once before (a cached API key)
 * is answered as a value, without a promise; it never throws synchronously.
 */
export function authenticateBearer(
  header: string | null,
  verifiers: readonly CredentialVerifier[],
  routes?: VerifierRoutes,
  request?: RequestInfo,
): Principal | Promise<Principal> {
  const parsed = parseBearer(header);
  if (!parsed.ok) {
    return Promise.reject(
      unauthenticated(parsed.reason === "missing" ? "missing bearer token" : "malformed authorization header", parsed.reason !== "missing"),
    );
  }
  const token = parsed.token;
  const known = routes?.get(token);
  if (!known) return askInTurn(token, verifiers, undefined, routes, request);
  const p = ask(known, token, request);
  const orOthers = (got: Principal | undefined): Principal | Promise<Principal> => {
    if (got) return got;
    routes!.delete(token);
    return askInTurn(token, verifiers, known, routes, request);
  };
  return p instanceof Promise ? p.then(orOthers) : orOthers(p);
}

/** Asks the verifiers in turn (but `skip`, already asked) and remembers which one accepted the token. */
async function askInTurn(
  token: string,
  verifiers: readonly CredentialVerifier[],
  skip: CredentialVerifier | undefined,
  routes: VerifierRoutes | undefined,
  request: RequestInfo | undefined,
): Promise<Principal> {
  for (const v of verifiers) {
    if (v === skip) continue;
    const p = await ask(v, token, request);
    if (p) {
      routes?.set(token, v);
      return p;
    }
  }
  throw unauthenticated("invalid token", true);
}

/** The principal a client certificate maps to (undefined: none), refusals as Unauthenticated with the bare challenge. */
async function certPrincipal(
  certs: NonNullable<AuthInterceptorOptions["clientCerts"]>,
  cert: ClientCertInfo,
  refused: () => void,
): Promise<Principal | undefined> {
  try {
    return await certs.authenticate(cert);
  } catch (e) {
    refused();
    const ce = ConnectError.from(e);
    if (ce.code === Code.Unauthenticated) throw unauthenticated(ce.rawMessage, false);
    throw e;
  }
}

/** Builds the authentication interceptor. */
export function createAuthInterceptor(opts: AuthInterceptorOptions): Interceptor {
  const anonymous: Principal = Object.freeze({ kind: "anonymous", userId: ANONYMOUS_USER_ID });
  const routes = createVerifierRoutes();
  const metrics = opts.metrics ?? NO_METRICS;
  return (next) => async (req) => {
    const rule = ruleFor(req.service.typeName, req.method.name);
    if (!rule) throw new ConnectError("procedure not allowed", Code.PermissionDenied);
    if (rule.access === "public") return next(req);
    let principal: Principal;
    if (opts.mode === "none") {
      // Local development: bearer tokens are ignored, everyone is the anonymous admin.
      principal = anonymous;
    } else {
      const header = req.header.get("authorization");
      const cert = req.contextValues.get(requestInfoKey).clientCert;
      let byCert = false;
      try {
        const mapped = header === null && cert && opts.clientCerts ? await certPrincipal(opts.clientCerts, cert, () => (byCert = true)) : undefined;
        if (mapped) principal = mapped;
        else {
          // A cached API key is answered at once: no promise to wait for on the hot path.
          const got = authenticateBearer(header, opts.verifiers, routes, req.contextValues.get(requestInfoKey));
          principal = got instanceof Promise ? await got : got;
        }
        // RFC 8705 §3: a bound key needs its certificate (CheckToken excepted: services checking a key ask without it).
        if (principal.kind === "api_key" && principal.clientCertThumbprint !== undefined) {
          if (!CERT_BINDING_EXEMPT.has(policyKey(req.service.typeName, req.method.name)) && !sameThumbprint(principal.clientCertThumbprint, cert?.thumbprint)) {
            throw unauthenticated("the API key is bound to a client certificate this connection did not present", true);
          }
        }
      } catch (e) {
        metrics.authentication(refusedKind(header, byCert), ConnectError.from(e).code === Code.Unauthenticated ? "refused" : "error");
        throw e;
      }
      metrics.authentication(principalKind(principal), "ok");
      annotateActiveSpan("tessera.principal.kind", principalKind(principal));
    }
    // The key's scopes first: the answer names the scope it lacks.
    if (principal.kind === "api_key" && principal.scopes.restricted && !principal.scopes.allows(req.method)) {
      if (!SCOPE_EXEMPT.has(policyKey(req.service.typeName, req.method.name))) {
        throw new ConnectError("the API key's scopes do not include this procedure", Code.PermissionDenied, {
          "www-authenticate": insufficientScopeChallenge(req.method),
        });
      }
    }
    try {
      // Most rules decide at once (no promise to wait for); admin rules ask the database.
      const deciding = checkPrincipal(rule, principal, () => opts.isInstanceAdmin(principal.userId), opts.keyMadeByInstanceAdmin);
      if (deciding) await deciding;
    } catch (e) {
      const ce = ConnectError.from(e);
      if (ce.code === Code.PermissionDenied) throw permissionDenied(ce.rawMessage);
      throw e;
    }
    if (opts.secondFactor && secondFactorRequired(rule, policyKey(req.service.typeName, req.method.name), principal, opts.secondFactor)) {
      throw permissionDenied(SECOND_FACTOR_REQUIRED);
    }
    // Only calls that are allowed count against the key's limits.
    if (principal.kind === "api_key" && principal.limits && opts.chargeApiKey) {
      try {
        const counting = opts.chargeApiKey(principal.apiKeyId, principal.limits);
        if (counting) await counting;
      } catch (e) {
        if (ConnectError.from(e).code === Code.ResourceExhausted) metrics.rateLimited(policyKey(req.service.typeName, req.method.name));
        throw e;
      }
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
