/**
 * The errors the interceptor answers with: Unauthenticated (with a `WWW-Authenticate`
 * challenge) for bad credentials, PermissionDenied (`error="insufficient_scope"`) for a
 * key whose scopes do not grant the procedure, Unavailable when Tessera cannot be asked.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { insufficientScopeChallenge } from "@tessera/sdk";

const REALM = 'Bearer realm="tessera"';

/** Unauthenticated, with the challenge (`error="invalid_token"` when a token was presented). */
export function unauthenticated(message: string, tokenPresented: boolean): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": tokenPresented ? `${REALM}, error="invalid_token"` : REALM });
}

/** Unauthenticated for a key bound to a client certificate the caller did not present (RFC 8705 §3). */
export function certificateMismatch(): ConnectError {
  return unauthenticated("the API key is bound to a client certificate this connection did not present", true);
}

/** Unavailable: a call to Tessera (`what`) failed; never repeats the cause's message (it may echo a token). */
export function unavailable(what: string, e: unknown): ConnectError {
  const ce = ConnectError.from(e);
  return new ConnectError(`tessera unreachable (${what}: ${Code[ce.code] ?? ce.code})`, Code.Unavailable);
}

/** PermissionDenied for a key without the procedure's scope, with the RFC 6750 challenge naming it. */
export function insufficientScope(method: DescMethod): ConnectError {
  return new ConnectError("the API key's scopes do not include this procedure", Code.PermissionDenied, {
    "www-authenticate": insufficientScopeChallenge(method),
  });
}

/** ResourceExhausted from CheckToken (the key's rate limit or budget), passed on with its message and `retry-after`. */
export function keyLimited(ce: ConnectError): ConnectError {
  const retry = ce.metadata.get("retry-after");
  return new ConnectError(ce.rawMessage, Code.ResourceExhausted, retry ? { "retry-after": retry } : undefined);
}
