/**
 * What a call ended with: the Connect code of its failure, or "ok"; the failure itself;
 * or an assertion that it failed with a given code (and message).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

/** The call's Connect error code, or "ok" when it succeeded (`p`: a promise, or a value answered at once, e.g. by a verifier). */
export async function codeOf(p: unknown): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

/** The call's error; fails the test when the call succeeded. */
export async function errorOf(p: unknown): Promise<ConnectError> {
  const e = await Promise.resolve(p).then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );
  expect(e, "expected the call to fail").toBeInstanceOf(ConnectError);
  return e!;
}

/** The call's error, asserting its code (and, when given, its message). */
export async function expectCode(p: Promise<unknown>, code: Code, message?: string | RegExp): Promise<ConnectError> {
  const e = await errorOf(p);
  expect(Code[e.code]).toBe(Code[code]);
  if (message !== undefined) expect(e.rawMessage).toMatch(message);
  return e;
}
