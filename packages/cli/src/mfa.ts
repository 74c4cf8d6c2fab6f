/**
 * `tessera mfa status|enroll|confirm|disable|recovery-codes`: the signed-in user's second
 * factor (TOTP and recovery codes, docs/mfa.md); `tessera mfa reset <user-id>`: an
 * instance admin removes another user's. Secrets and recovery codes go to stdout
 * (shown once by the server); notes and prompts to stderr.
 */
import type { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { IdentityService, MfaService } from "@tessera/sdk/proto";
import { CliError, UsageError } from "./errors.js";
import { proofFromText } from "./mfa-login.js";
import { ask, askSecret, formatTime, note, out, printFields, printJson, readStdinLine } from "./output.js";
import { clientAction } from "./run.js";
import type { Session } from "./session.js";

/** A line typed on the terminal, else the next line of stdin (empty at its end). */
async function askLine(question: string): Promise<string> {
  return (process.stdin.isTTY ? await ask(question) : await readStdinLine()).trim();
}

/** The current 6-digit code: --code, TESSERA_MFA_CODE, a prompt, or the next line of stdin. */
async function currentCode(s: Session, flag: string | undefined, what: string): Promise<string> {
  const text = flag ?? s.config.mfaCode ?? (await askLine("Code from your authenticator app: "));
  const proof = proofFromText(text);
  if (!proof || !("code" in proof)) throw new UsageError(`${what} needs the current 6-digit code of your authenticator app: pass --code (or TESSERA_MFA_CODE)`);
  return proof.code;
}

/** The signed-in user's password: TESSERA_PASSWORD, a prompt, or the next line of stdin (as `tessera login`). */
async function currentPassword(s: Session): Promise<string> {
  const password = s.config.password ?? (await askSecret(process.stdin.isTTY ? "Password: " : ""));
  if (!password) throw new UsageError("no password given: type it, set TESSERA_PASSWORD, or pipe it on stdin");
  return password;
}

/** API keys have no second factor: say so before calling. */
function refuseApiKey(s: Session): void {
  if (s.config.apiKey)
    throw new CliError("TESSERA_API_KEY is set, but two-factor authentication belongs to a signed-in user: unset it and run `tessera login`");
}

/** Prints recovery codes, one a line on stdout (or as JSON), with a note to keep them. */
function printRecoveryCodes(s: Session, codes: string[]): void {
  if (s.output === "json") {
    printJson({ recoveryCodes: codes });
    return;
  }
  note("Recovery codes (each works once; they are not shown again: keep them somewhere safe):");
  for (const c of codes) out(c);
}

/** Adds the `mfa` command group. */
export function registerMfa(program: Command): void {
  const mfa = program
    .command("mfa")
    .description("two-factor authentication of the signed-in user: status, enroll, confirm, disable, recovery-codes; reset (instance admins)");

  mfa
    .command("status")
    .description("whether TOTP is on and how many recovery codes are left")
    .action(
      clientAction(async (s) => {
        refuseApiKey(s);
        const st = await s.call(s.client.client(MfaService).getMfaStatus({}));
        if (s.output === "json") {
          printJson({
            totpEnabled: st.totpEnabled,
            totpEnabledAt: st.totpEnabledAt ? timestampDate(st.totpEnabledAt).toISOString() : "",
            recoveryCodesRemaining: st.recoveryCodesRemaining,
          });
          return;
        }
        printFields([
          ["Two-factor", st.totpEnabled ? "on (authenticator app)" : "off"],
          ["Enabled", formatTime(st.totpEnabledAt)],
          ["Recovery codes left", String(st.recoveryCodesRemaining)],
        ]);
        if (!st.totpEnabled) note("turn it on with `tessera mfa enroll`");
      }),
    );

  mfa
    .command("enroll")
    .description("turn on TOTP (needs your password): prints the otpauth:// URI and the secret for your app, asks for a code, prints 10 recovery codes once")
    .option("--code <code>", "confirm with this code instead of asking (rarely useful: the secret is new)")
    .addHelpText(
      "after",
      "\nA user with a password gives it first (TESSERA_PASSWORD, a prompt, or the first line of stdin); a user\n" +
        "without one (provider sign-in only) must have signed in within the last 15 minutes (else `tessera login`\n" +
        "again). Without a terminal the code is read from the next line of stdin; with none, confirm later with\n" +
        "`tessera mfa confirm <code>` (before the enrolment expires).",
    )
    .action(
      clientAction<{ code?: string }>(async (s, _args, opts) => {
        refuseApiKey(s);
        const svc = s.client.client(MfaService);
        // A stolen token alone must not turn TOTP on: the server wants the password (or a recent sign-in).
        const { hasPassword } = await s.call(s.client.client(IdentityService).listIdentities({}));
        const password = hasPassword ? await currentPassword(s) : "";
        const started = await s.call(
          svc.startTotpEnrollment({ password }),
          hasPassword ? "check the password" : "run `tessera login` again, then `tessera mfa enroll`",
        );
        const expires = started.expiresAt ? timestampDate(started.expiresAt).toISOString() : "";
        if (s.output === "json") printJson({ otpauthUri: started.otpauthUri, secret: started.secret, expiresAt: expires });
        else {
          note("Add this to your authenticator app (scan the URI as a QR code, or type the secret):");
          out(started.otpauthUri);
          out(`Secret: ${started.secret}`);
        }
        const text = opts.code ?? (await askLine("Code from your authenticator app: "));
        if (text === "") {
          note(`Not turned on yet: run \`tessera mfa confirm <code>\`${expires ? ` before ${expires}` : ""}.`);
          return;
        }
        await confirm(s, text);
      }),
    );

  mfa
    .command("confirm")
    .argument("<code>", "the current 6-digit code of the secret `tessera mfa enroll` printed")
    .description("finish `tessera mfa enroll`: turn TOTP on and print 10 recovery codes once")
    .action(
      clientAction(async (s, [code]) => {
        refuseApiKey(s);
        await confirm(s, code ?? "");
      }),
    );

  mfa
    .command("disable")
    .description("turn TOTP off and delete the recovery codes: your password and a current code (or a recovery code for a lost device)")
    .option("--code <code>", "the current 6-digit code (or TESSERA_MFA_CODE; asked when omitted)")
    .option("--recovery-code <code>", "a recovery code: instead of the code (lost device), or, for users without a password, instead of it")
    .addHelpText(
      "after",
      "\nThe password comes from TESSERA_PASSWORD, a prompt, or stdin. A user without a password (provider sign-in\n" +
        "only) gives --recovery-code and a current code.",
    )
    .action(
      clientAction<{ code?: string; recoveryCode?: string }>(async (s, _args, opts) => {
        refuseApiKey(s);
        const { hasPassword } = await s.call(s.client.client(IdentityService).listIdentities({}));
        const recoveryCode = opts.recoveryCode?.trim() ?? "";
        let password = "";
        let code = "";
        if (hasPassword) {
          password = await currentPassword(s);
          if (!recoveryCode) code = await currentCode(s, opts.code, "disabling");
        } else {
          if (!recoveryCode) throw new UsageError("you have no password: pass --recovery-code <code> (and the current code)");
          code = await currentCode(s, opts.code, "disabling");
        }
        await s.call(s.client.client(MfaService).disableTotp({ password, code, recoveryCode }));
        if (s.output === "json") printJson({ totpEnabled: false });
        else note("Two-factor authentication is off; the recovery codes are deleted.");
      }),
    );

  mfa
    .command("recovery-codes")
    .description("replace every recovery code with 10 new ones (needs a current code); prints them once")
    .option("--code <code>", "the current 6-digit code (or TESSERA_MFA_CODE; asked when omitted)")
    .action(
      clientAction<{ code?: string }>(async (s, _args, opts) => {
        refuseApiKey(s);
        const code = await currentCode(s, opts.code, "new recovery codes");
        const res = await s.call(s.client.client(MfaService).regenerateRecoveryCodes({ code }));
        printRecoveryCodes(s, res.recoveryCodes);
        if (s.output !== "json") note("The old recovery codes no longer work.");
      }),
    );

  mfa
    .command("reset")
    .description("instance admins: turn off another user's TOTP and delete their recovery codes (they lost app and codes)")
    .argument("<user-id>", "the user whose second factor is removed")
    .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
    .addHelpText(
      "after",
      '\nOnly after proving out of band who is asking (docs/mfa.md, "Lost device"). The user is told by mail and\n' +
        "the audit trail records it; their sessions stay open (end them if the account may be in the wrong hands).",
    )
    .action(
      clientAction<{ yes?: boolean }>(async (s, [userId], opts) => {
        if (!opts.yes) {
          if (!process.stdin.isTTY) throw new UsageError("refusing to reset without confirmation: pass --yes");
          const answer = await ask(`Remove the second factor of user ${userId}? They sign in with the password alone until they enrol again. [y/N] `);
          if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("not reset");
        }
        await s.call(s.client.client(MfaService).resetUserMfa({ userId: userId ?? "" }), "check the user id");
        if (s.output === "json") printJson({ reset: userId });
        else note(`The second factor of user ${userId} is removed; they were told by mail.`);
      }),
    );
}

/** ConfirmTotpEnrollment with a typed code; prints the recovery codes. */
async function confirm(s: Session, text: string): Promise<void> {
  const code = await currentCode(s, text, "confirming");
  const res = await s.call(
    s.client.client(MfaService).confirmTotpEnrollment({ code }),
    "no enrolment is waiting (or it expired): run `tessera mfa enroll` again",
  );
  if (s.output !== "json") note("Two-factor authentication is on: `tessera login` will ask for a code.");
  printRecoveryCodes(s, res.recoveryCodes);
}
