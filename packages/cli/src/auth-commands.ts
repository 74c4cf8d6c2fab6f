/**
 * `tessera login`, `signup`, `logout`, `whoami`.
 */
import type { Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { MfaRequiredError } from "@tessera/sdk";
import { AuthMode, PrincipalKind } from "@tessera/sdk/proto";
import { CliError, UsageError } from "./errors.js";
import { browserLogin } from "./login-browser.js";
import { deviceLogin } from "./login-device.js";
import { withSecondFactor, type MfaOptions } from "./mfa-login.js";
import { ask, askSecret, formatTime, note, printFields, printJson } from "./output.js";
import { clientAction } from "./run.js";
import type { Session } from "./session.js";

/** Email and password from --email/TESSERA_PASSWORD, stdin, or the terminal. */
async function credentialsFromUser(s: Session, emailFlag: string | undefined): Promise<{ email: string; password: string }> {
  const interactive = !!process.stdin.isTTY;
  let email = emailFlag?.trim() ?? "";
  if (!email) {
    if (!interactive) throw new UsageError("--email is required when stdin is not a terminal (password from TESSERA_PASSWORD or stdin)");
    email = (await ask("Email: ")).trim();
  }
  if (!email) throw new UsageError("no email given: pass --email");
  const password = s.config.password ?? (await askSecret(interactive ? "Password: " : ""));
  if (!password) throw new UsageError("no password given: type it, set TESSERA_PASSWORD, or pipe it on stdin");
  return { email, password };
}

/** A sign-in call whose Unauthenticated answer is about the credentials typed, not a missing login. */
async function signInCall<T>(s: Session, p: Promise<T>, retry: string): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof MfaRequiredError) throw e; // the password was right: the second factor is next
    const ce = ConnectError.from(e);
    if (ce.code === Code.Unauthenticated) throw new CliError(`${ce.rawMessage}: ${retry}`);
    return s.call(Promise.reject(e));
  }
}

async function authConfig(s: Session) {
  return s.call(s.client.auth.getAuthConfig({}));
}

function warnApiKey(s: Session): void {
  if (s.config.apiKey) note("note: TESSERA_API_KEY is set and is used instead of these credentials until you unset it");
}

async function describeLogin(s: Session, fallbackEmail?: string): Promise<void> {
  const tokens = await s.client.getTokens();
  let email = fallbackEmail ?? "";
  try {
    const u = await s.client.userAccounts.getUser({});
    email = u.email || email;
  } catch {
    // the login worked; the profile is only for the message
  }
  if (s.output === "json") printJson({ apiUrl: s.config.apiUrl, userId: tokens?.userId ?? "", email, credentialsFile: s.file.path });
  else note(`Logged in to ${s.config.apiUrl} as ${email || tokens?.userId || "you"} (credentials in ${s.file.path})`);
  warnApiKey(s);
}

/**
 * The provider of a browser login: `--provider` when the server has it, else `default` or
 * the only one; otherwise the choices are listed.
 */
function chooseProvider(providers: readonly { id: string; name: string }[], wanted: string | undefined): string {
  const choices = providers.map((p) => `${p.id} (${p.name})`).join(", ");
  if (wanted !== undefined) {
    if (providers.some((p) => p.id === wanted)) return wanted;
    throw new UsageError(`unknown provider "${wanted}": this server offers ${choices}`);
  }
  if (providers.length === 1 || providers.some((p) => p.id === "default")) return "";
  throw new UsageError(`this server offers several providers: choose one with --provider <id> (${choices})`);
}

/** The device login, then the tokens stored as every login stores them. */
async function storeDeviceLogin(s: Session): Promise<void> {
  const tokens = await deviceLogin(s);
  await s.client.setTokens(tokens);
  await describeLogin(s);
}

/** Adds login, signup, logout and whoami. */
export function registerAuthCommands(program: Command): void {
  program
    .command("login")
    .description("log in: through the OpenID provider in your browser (default when the server has one), --device, or --password")
    .option("--password", "log in with email and password (password from TESSERA_PASSWORD, stdin, or a prompt)")
    .option("--device", "log in with a code approved in a browser on any device (for SSH sessions and containers)")
    .option("--email <email>", "email for --password (asked when omitted on a terminal)")
    .option("--no-browser", "do not try to open a browser; only print the URL")
    .option("--provider <id>", "identity provider id (default: the server's `default` provider, or its only one)")
    .option("--code <code>", "the 6-digit code of your authenticator app, for a user with two-factor authentication (or TESSERA_MFA_CODE)")
    .option("--recovery-code <code>", "a recovery code instead of --code (it is used up)")
    .addHelpText(
      "after",
      "\nThe browser login listens on LOGIN_HOST:LOGIN_PORT (default 127.0.0.1:4242) for the provider's redirect to\n" +
        "http://127.0.0.1:<port>/callback, which the server must allow in AUTH_ALLOWED_REDIRECT_URIS. It gives up after 5 minutes.\n" +
        "When no browser can be opened here (an SSH session, no DISPLAY, TESSERA_NO_BROWSER=1), `tessera login` uses\n" +
        "--device: it prints a URL and a code to approve in the console of the server, from any device.\n" +
        "Non-interactive: TESSERA_PASSWORD=... tessera login --password --email you@example.com\n" +
        "With two-factor authentication the code is asked on a terminal; scripts pass --code (or TESSERA_MFA_CODE,\n" +
        "or the next line of stdin) or --recovery-code.",
    )
    .action(
      clientAction<{ password?: boolean; device?: boolean; email?: string; browser: boolean; provider?: string } & MfaOptions>(async (s, _args, opts) => {
        const cfg = await authConfig(s);
        if (cfg.mode === AuthMode.NONE) {
          note(`${s.config.apiUrl} runs with AUTH_MODE=none: no login needed, every command works as the anonymous admin`);
          return;
        }
        if (opts.device && opts.password) throw new UsageError("--device and --password are two ways to log in: pick one");
        if (opts.device) return storeDeviceLogin(s);
        const usePassword = opts.password || (cfg.oidcProviders.length === 0 && !opts.provider);
        if (usePassword) {
          if (!cfg.passwordLoginEnabled) throw new CliError("password login is turned off on this server: run `tessera login` (OpenID provider)");
          const { email, password } = await credentialsFromUser(s, opts.email);
          await withSecondFactor(
            s,
            () => signInCall(s, s.client.signIn(email, password), "check the email and password and run `tessera login --password` again"),
            opts,
          );
          await describeLogin(s, email);
          return;
        }
        if (cfg.oidcProviders.length === 0) throw new CliError("this server has no OpenID provider: run `tessera login --password`");
        // No browser to open (and none asked for with --no-browser): the device login works from anywhere.
        if (opts.browser && s.config.noBrowserReason) {
          note(`No browser can be opened here (${s.config.noBrowserReason}): logging in with a code instead (--no-browser keeps the browser login).`);
          return storeDeviceLogin(s);
        }
        const providerId = chooseProvider(cfg.oidcProviders, opts.provider);
        await withSecondFactor(s, async () => s.client.setTokens(await browserLogin(s, { openBrowser: opts.browser, providerId })), opts);
        await describeLogin(s);
      }),
    );

  program
    .command("signup")
    .description("create a user with email and password (AUTH_MODE=full) and log in")
    .option("--email <email>", "email (asked when omitted on a terminal)")
    .option("--name <name>", "display name")
    .addHelpText("after", "\nNon-interactive: TESSERA_PASSWORD=... tessera signup --email you@example.com")
    .action(
      clientAction<{ email?: string; name?: string }>(async (s, _args, opts) => {
        const cfg = await authConfig(s);
        if (cfg.mode === AuthMode.NONE) {
          note(`${s.config.apiUrl} runs with AUTH_MODE=none: no users or login needed`);
          return;
        }
        if (!cfg.signupEnabled) throw new CliError("sign-up is turned off on this server: ask its admin for an account, then run `tessera login`");
        const { email, password } = await credentialsFromUser(s, opts.email);
        await signInCall(s, s.client.signUp(email, password, opts.name ?? ""), "run `tessera signup` again");
        await describeLogin(s, email);
      }),
    );

  program
    .command("logout")
    .description("end the session on the server and remove the stored tokens")
    .action(
      clientAction(async (s) => {
        const store = s.file.tokenStore(s.config.apiUrl);
        const tokens = await store.get();
        if (!tokens) {
          note(`not logged in to ${s.config.apiUrl}`);
        } else {
          await store.clear();
          if (tokens.refreshToken) {
            try {
              await s.client.auth.logout({ refreshToken: tokens.refreshToken });
            } catch {
              note("the stored tokens are removed, but the server could not be told; the session ends when it expires");
            }
          }
          note(`logged out of ${s.config.apiUrl}`);
        }
        if (s.config.apiKey) note("note: TESSERA_API_KEY is still set in your environment");
      }),
    );

  program
    .command("whoami")
    .description("show who you are to the server: user, how you authenticated, current account")
    .action(
      clientAction(async (s) => {
        const me = await s.call(s.client.auth.checkToken({}));
        const user = await s.client.userAccounts.getUser({}).catch(() => undefined);
        const account = await s.currentAccount().catch(() => undefined);
        const how: Record<number, string> = {
          [PrincipalKind.ANONYMOUS]: "nobody (the server runs AUTH_MODE=none)",
          [PrincipalKind.USER]: "Tessera session",
          [PrincipalKind.OIDC_USER]: "OpenID provider token",
          [PrincipalKind.API_KEY]: "API key (TESSERA_API_KEY)",
        };
        const expires = me.expiresAt ? timestampDate(me.expiresAt).toISOString() : "";
        if (s.output === "json") {
          printJson({
            apiUrl: s.config.apiUrl,
            userId: me.userId,
            email: user?.email ?? "",
            name: user?.name ?? "",
            principalKind: PrincipalKind[me.principalKind],
            accountId: account?.id ?? me.accountId,
            accountName: account?.name ?? "",
            apiKeyId: me.apiKeyId,
            expiresAt: expires,
            amr: me.amr,
            assuranceLevel: me.assuranceLevel,
          });
          return;
        }
        const fields: Array<[string, string]> = [
          ["Server", s.config.apiUrl],
          ["User", me.userId],
          ["Email", user?.email || "-"],
          ["Name", user?.name || "-"],
          ["Signed in with", how[me.principalKind] ?? PrincipalKind[me.principalKind] ?? "?"],
          ["Account", account ? `${account.name} (${account.id})` : me.accountId || "-"],
        ];
        if (me.amr.length > 0) fields.push(["Second factor", me.assuranceLevel >= 2 ? `yes (${me.amr.join(", ")})` : `no (${me.amr.join(", ")})`]);
        if (me.apiKeyId) fields.push(["API key", me.apiKeyId]);
        if (me.expiresAt) fields.push(["Credential expires", formatTime(me.expiresAt)]);
        printFields(fields);
      }),
    );
}
