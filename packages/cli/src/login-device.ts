/**
 * `tessera login --device`: the device authorization grant (RFC 8628) for terminals that
 * no browser can reach (SSH sessions, containers, notebooks). The CLI starts a device
 * login, prints the approval page's URL and the user code, and polls every `interval`
 * seconds (longer after each SLOW_DOWN) until the person approves or denies in the
 * console, or the code expires. The device code stays in memory only.
 */
import { hostname } from "node:os";
import { Code, ConnectError } from "@connectrpc/connect";
import { tokensFromMessage, type Tokens } from "@tessera/sdk";
import { createTesseraClient } from "@tessera/sdk/node";
import { DeviceLoginService, DeviceLoginStatus } from "@tessera/sdk/proto";
import { CliError } from "./errors.js";
import { note } from "./output.js";
import type { Session } from "./session.js";

/** What a slow_down adds when an older server does not say the new interval (RFC 8628 §3.5). */
const SLOW_DOWN_SECONDS = 5;

/** C0/C1 controls and line separators: never printed from a server's answer. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** The approval URL, if the CLI may print it: http(s), no user name or password. */
function printableUrl(raw: string): string {
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== "https:" && u.protocol !== "http:") || u.username !== "" || u.password !== "") {
    throw new CliError("the server answered with an approval URL the CLI will not print: check that TESSERA_API_URL is your Tessera server");
  }
  return u.href;
}

/** The name the approval page shows for this login. */
function clientName(): string {
  const host = hostname().replace(CONTROLS, "").slice(0, 60);
  return host ? `tessera CLI on ${host}` : "tessera CLI";
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the device login; resolves with the tokens (not yet stored). */
export async function deviceLogin(s: Session): Promise<Tokens> {
  // No credentials on these calls: the device code is the credential.
  const device = createTesseraClient({ baseUrl: s.config.apiUrl, protocol: "connect" }).client(DeviceLoginService);
  const started = await s.call(device.startDeviceLogin({ clientName: clientName() }));
  const userCode = started.userCode.replace(CONTROLS, "");
  const deadline = Date.now() + started.expiresIn * 1000;
  note("To sign in, open this page in a browser on any device, sign in, and enter the code:");
  note("");
  note(`  ${printableUrl(started.verificationUri)}`);
  note("");
  note(`  Code: ${userCode}`);
  note("");
  note(`Or open ${printableUrl(started.verificationUriComplete)} (waiting up to ${Math.round(started.expiresIn / 60)} minutes)`);

  let interval = Math.max(1, started.interval);
  for (;;) {
    await sleep(interval * 1000);
    if (Date.now() > deadline + interval * 1000) throw new CliError("the code expired before it was approved: run `tessera login --device` again");
    let answer: Awaited<ReturnType<typeof device.pollDeviceLogin>>;
    try {
      answer = await device.pollDeviceLogin({ deviceCode: started.deviceCode });
    } catch (e) {
      const ce = ConnectError.from(e);
      if (ce.code === Code.Unavailable || ce.code === Code.ResourceExhausted) {
        // A moment without the server (or too many polls from this network): wait longer and try again.
        interval += SLOW_DOWN_SECONDS;
        continue;
      }
      if (ce.code === Code.NotFound) throw new CliError(`the device login is gone (${ce.rawMessage}): run \`tessera login --device\` again`);
      return s.call(Promise.reject(e));
    }
    switch (answer.status) {
      case DeviceLoginStatus.PENDING:
        interval = Math.max(interval, answer.interval);
        continue;
      case DeviceLoginStatus.SLOW_DOWN:
        interval = Math.max(interval + SLOW_DOWN_SECONDS, answer.interval);
        continue;
      case DeviceLoginStatus.APPROVED:
        if (!answer.tokens) throw new CliError("the server approved the login without tokens: run `tessera login --device` again");
        return tokensFromMessage(answer.tokens);
      case DeviceLoginStatus.DENIED:
        throw new CliError("the login was denied in the browser");
      case DeviceLoginStatus.EXPIRED:
        throw new CliError("the code expired before it was approved: run `tessera login --device` again");
      default:
        throw new CliError(`unexpected device login status ${answer.status}: update the tessera CLI`);
    }
  }
}
