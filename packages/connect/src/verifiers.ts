/**
 * The service's own credential verifiers, tried before Tessera's: a service that also
 * issues credentials of its own (say `sk_...` keys kept in its database) checks them
 * itself and leaves everything else to Tessera.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { TesseraPrincipal } from "./principal-key.js";

/** The caller a verifier vouches for. */
export interface VerifiedCaller {
  /** The caller's id, in the service's own terms (it need not be a Tessera user id). */
  userId: string;
  /** The account or tenant the credential is scoped to, if any. */
  accountId?: string;
  /** When the credential expires; a past date answers Unauthenticated ("credential expired"). */
  expiresAt?: Date;
  /** Anything else handlers should see (scopes, plan, ...), as `principal.attributes`. */
  attributes?: Readonly<Record<string, unknown>>;
}

/**
 * A verifier of the service's own bearer tokens. The first verifier whose `match`
 * accepts a token owns it: its answer is final and the token is never sent to Tessera.
 * Tokens no verifier matches go to Tessera (its JWTs, API keys, provider tokens).
 *
 * ```ts
 * const serviceKeys: CredentialVerifier = {
 *   name: "service-keys",
 *   match: (token) => token.startsWith("sk_"),
 *   verify: async (token) => (await db.findKey(token)) ?? undefined, // { userId, accountId? }
 * };
 * createAuthInterceptor({ tesseraUrl, verifiers: [serviceKeys] });
 * ```
 */
export interface CredentialVerifier {
  /** Shown as `principal.verifier` and in the Internal error when `verify` fails unexpectedly. */
  name: string;
  /** Whether this verifier owns `token` (cheap and synchronous: a prefix or shape test). */
  match(token: string): boolean;
  /**
   * The caller `token` stands for, or `undefined` to reject it (Unauthenticated, with a
   * `WWW-Authenticate` challenge). A thrown ConnectError answers with its own code;
   * any other error answers Internal without its message.
   */
  verify(token: string): VerifiedCaller | undefined | Promise<VerifiedCaller | undefined>;
}

/** The first verifier that owns `token`, if any. */
export function findVerifier(verifiers: readonly CredentialVerifier[], token: string): CredentialVerifier | undefined {
  return verifiers.find((v) => v.match(token));
}

/**
 * Runs `verifier` on `token` and returns the principal (`kind: "custom"`,
 * `via: "verifier"`); `reject(message)` builds the Unauthenticated answer.
 */
export async function runVerifier(
  verifier: CredentialVerifier,
  token: string,
  now: number,
  reject: (message: string) => ConnectError,
): Promise<TesseraPrincipal> {
  let caller: VerifiedCaller | undefined;
  try {
    caller = await verifier.verify(token);
  } catch (e) {
    if (e instanceof ConnectError) throw e;
    throw new ConnectError(`credential verifier "${verifier.name}" failed`, Code.Internal);
  }
  if (!caller || typeof caller.userId !== "string" || caller.userId === "") throw reject("invalid token");
  if (caller.expiresAt && caller.expiresAt.getTime() <= now) throw reject("credential expired");
  return {
    userId: caller.userId,
    kind: "custom",
    accountId: caller.accountId,
    expiresAt: caller.expiresAt,
    via: "verifier",
    verifier: verifier.name,
    attributes: caller.attributes,
  };
}
