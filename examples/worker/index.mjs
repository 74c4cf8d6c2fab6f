/**
 * A worker that authenticates to Tessera with an API key (TESSERA_API_KEY) and calls
 * the API in a loop. It tells an expired key from a revoked one, retries while
 * Tessera is unreachable, and stops cleanly on SIGTERM/SIGINT.
 *
 * Exit codes: 0 stopped (signal, or WORKER_ITERATIONS done); 1 unexpected error;
 * 2 configuration (no TESSERA_API_KEY, not an API key); 3 key expired; 4 key revoked.
 */
import { Code, ConnectError, createTesseraClient, PrincipalKind } from "@tessera/sdk/node";

const EXIT = { ok: 0, failed: 1, config: 2, expired: 3, revoked: 4 };

const apiUrl = process.env.TESSERA_API_URL ?? "http://localhost:8080";
const apiKey = process.env.TESSERA_API_KEY;
const intervalMs = Number(process.env.WORKER_INTERVAL_MS ?? 5_000);
/** Stop after this many rounds (0: run until stopped). */
const iterations = Number(process.env.WORKER_ITERATIONS ?? 0);
const maxBackoffMs = 30_000;

const log = (msg) => console.log(`${new Date().toISOString()} ${msg}`);
function die(code, msg) {
  console.error(msg);
  process.exit(code);
}

if (!apiKey) die(EXIT.config, "TESSERA_API_KEY is not set: create a key with `tessera apikeys create --name worker --expires-in 30d` and export it");
if (!apiKey.startsWith("tsk_")) die(EXIT.config, "TESSERA_API_KEY does not look like an API key (tsk_...)");

const tessera = createTesseraClient({ baseUrl: apiUrl, apiKey });
let stopping = false;
let wake;
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    log(`${sig}: finishing the current round and stopping`);
    stopping = true;
    wake?.();
  });
}
const sleep = (ms) =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    wake = () => {
      clearTimeout(t);
      r();
    };
  });

/** @type {Date | undefined} */
let keyExpiresAt;
let keyId = "";

/** Turns a rejection of the key into a clear message and exit code. */
function rejected(e) {
  if (keyExpiresAt && keyExpiresAt.getTime() <= Date.now()) {
    die(
      EXIT.expired,
      `api key expired at ${keyExpiresAt.toISOString()}: create a new one with \`tessera apikeys create --name worker --expires-in 30d\`` +
        ` (or \`tessera apikeys regenerate ${keyId || "<id>"}\`) and set TESSERA_API_KEY`,
    );
  }
  die(
    EXIT.revoked,
    `api key rejected (${e.rawMessage}): it was deleted or regenerated; list keys with \`tessera apikeys list\` and set TESSERA_API_KEY to a current one`,
  );
}

/** Runs `fn`, retrying with backoff while Tessera is unreachable. */
async function call(what, fn) {
  let backoff = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) rejected(e);
      if (e.code === Code.PermissionDenied) die(EXIT.failed, `${what}: permission denied (${e.rawMessage})`);
      if (e.code !== Code.Unavailable && e.code !== Code.DeadlineExceeded && e.code !== Code.Unknown) die(EXIT.failed, `${what} failed: ${e.message}`);
      if (stopping) return undefined;
      log(`${what}: tessera unavailable (${e.rawMessage}); retrying in ${backoff} ms`);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoffMs);
    }
  }
}

const me = await call("CheckToken", () => tessera.auth.checkToken({}));
if (!me) process.exit(EXIT.ok);
if (me.principalKind !== PrincipalKind.API_KEY) die(EXIT.config, `TESSERA_API_KEY authenticated as ${PrincipalKind[me.principalKind]}, not as an API key`);
keyExpiresAt = me.expiresAt ? new Date(Number(me.expiresAt.seconds) * 1000) : undefined;
keyId = me.apiKeyId;
log(`authenticated: api key ${me.apiKeyId} of account ${me.accountId}, expires ${keyExpiresAt?.toISOString() ?? "never"}`);
if (keyExpiresAt && keyExpiresAt.getTime() - Date.now() < 7 * 86_400_000) {
  log(`warning: the api key expires within 7 days; regenerate it with \`tessera apikeys regenerate ${keyId}\``);
}

for (let round = 1; !stopping && (iterations === 0 || round <= iterations); round++) {
  const res = await call("GetUserAccounts", () => tessera.userAccounts.getUserAccounts({}));
  if (!res) break;
  // The work goes here; this example only reports what the key can see.
  log(`round ${round}: ok, ${res.accounts.length} account(s) visible`);
  if (!stopping && (iterations === 0 || round < iterations)) await sleep(intervalMs);
}
log("stopped");
process.exit(EXIT.ok);
