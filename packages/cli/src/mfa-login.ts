/**
 * The second factor of `tessera login`: when the server answers a sign-in with an MFA
 * challenge, the code comes from --code / TESSERA_MFA_CODE, --recovery-code, a prompt on
 * a terminal (three tries), or the next line of stdin; VerifyMfa then stores the tokens.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { MfaRequiredError, type MfaChallenge, type MfaProof } from "@tessera/sdk";
import { CliError, UsageError } from "./errors.js";
import { ask, readStdinLine } from "./output.js";
import type { Session } from "./session.js";

/** Where the second factor may come from: the login's options. */
export interface MfaOptions {
  code?: string;
  recoveryCode?: string;
}

/** Tries on a terminal before giving up (the server limits tries per challenge too). */
const PROMPT_TRIES = 3;

/** A typed answer: 6 digits (spaces allowed) is a TOTP code, anything else a recovery code. */
export function proofFromText(text: string): MfaProof | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const digits = t.replace(/[\s-]+/g, "");
  return /^\d{6}$/.test(digits) ? { code: digits } : { recoveryCode: t };
}

/** The proof given up front (flags, TESSERA_MFA_CODE), if any. */
function givenProof(s: Session, opts: MfaOptions): MfaProof | undefined {
  if (opts.code !== undefined && opts.recoveryCode !== undefined) throw new UsageError("give --code or --recovery-code, not both");
  if (opts.recoveryCode !== undefined) return { recoveryCode: opts.recoveryCode.trim() };
  const code = opts.code ?? s.config.mfaCode;
  if (code === undefined) return undefined;
  const proof = proofFromText(code);
  if (!proof || !("code" in proof)) throw new UsageError("--code (or TESSERA_MFA_CODE) must be the 6-digit code of your authenticator app");
  return proof;
}

/** A code the server did not accept (InvalidArgument): the same challenge may be tried again. */
class WrongCodeError extends CliError {}

/** One VerifyMfa call; a wrong code is a CliError naming what to do, a dead challenge too. */
async function verify(s: Session, challenge: MfaChallenge, proof: MfaProof): Promise<void> {
  try {
    await s.client.verifyMfa(challenge, proof);
  } catch (e) {
    const ce = ConnectError.from(e);
    if (ce.code === Code.InvalidArgument)
      throw new WrongCodeError(`${ce.rawMessage}: check the code (a new one every 30 seconds) and run \`tessera login\` again`);
    if (ce.code === Code.NotFound) throw new CliError(`${ce.rawMessage}: the sign-in expired or used up its tries; run \`tessera login\` again`);
    return s.call(Promise.reject(e));
  }
}

/** Completes a challenged sign-in: stores the tokens, or throws a CliError. */
async function completeMfa(s: Session, challenge: MfaChallenge, opts: MfaOptions): Promise<void> {
  const given = givenProof(s, opts);
  if (given) return verify(s, challenge, given);
  if (!process.stdin.isTTY) {
    const proof = proofFromText(await readStdinLine());
    if (!proof) {
      throw new UsageError(
        "this user has two-factor authentication: pass --code <6 digits> (or TESSERA_MFA_CODE, or the code on stdin), or --recovery-code <code>",
      );
    }
    return verify(s, challenge, proof);
  }
  for (let attempt = 1; ; attempt++) {
    const proof = proofFromText(await ask("Code from your authenticator app (or a recovery code): "));
    if (!proof) throw new UsageError("no code given: run `tessera login` again");
    try {
      return await verify(s, challenge, proof);
    } catch (e) {
      // A wrong code may be retried with the same challenge; anything else ends the login.
      if (!(e instanceof WrongCodeError) || attempt >= PROMPT_TRIES) throw e;
      process.stderr.write("That code was not accepted: try the current one.\n");
    }
  }
}

/** Runs a sign-in; when it answers an MFA challenge, completes it (the tokens end up stored either way). */
export async function withSecondFactor(s: Session, signIn: () => Promise<unknown>, opts: MfaOptions): Promise<void> {
  try {
    await signIn();
  } catch (e) {
    if (!(e instanceof MfaRequiredError)) throw e;
    await completeMfa(s, e.challenge, opts);
  }
}
