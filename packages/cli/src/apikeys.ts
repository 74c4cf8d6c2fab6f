/**
 * `tessera apikeys create|list|get|regenerate|revoke-old|delete`: the current account's
 * API keys; `list --expiring 14d` shows only keys that expire soon, `regenerate --overlap 1h`
 * keeps the old value working for a zero-downtime rollout.
 */
import type { Command } from "commander";
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { CreateAccountApiKeyResponseSchema, AccountApiKeySchema, RegenerateAccountApiKeyResponseSchema, type AccountApiKey } from "@tessera/sdk/proto";
import { CliError, UsageError } from "./errors.js";
import { ask, formatTime, note, out, printFields, printJson, printTable } from "./output.js";
import { clientAction } from "./run.js";
import type { Session } from "./session.js";

/** The server's limit on key lifetimes. */
const MAX_KEY_DAYS = 365;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };

/** The server's limit on a regenerate's overlap. */
const MAX_OVERLAP_MS = 86_400_000;
/** Keys expiring within this are marked "soon" in `list`. */
const SOON_MS = 14 * 86_400_000;

/** `30d`, `12h`, `2w`, `1y` (365 days), `90m` (minutes), `45s` -> milliseconds. */
function parseDuration(v: string, option = "--expires-in", examples = "30d, 12h, 2w or 1y"): number {
  const m = /^\s*(\d{1,6})\s*([smhdwy])\s*$/i.exec(v);
  if (!m) throw new UsageError(`${option} must look like ${examples}, not ${JSON.stringify(v.slice(0, 20))}`);
  return Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
}

/** `--overlap 1h` -> seconds (0 to 24 hours). */
function overlapFrom(v: string | undefined): number {
  if (v === undefined) return 0;
  const ms = parseDuration(v, "--overlap", "1h, 30m or 24h");
  if (ms > MAX_OVERLAP_MS) throw new UsageError("--overlap is at most 24h: the old value can be kept one day at most");
  return ms / 1000;
}

/** Milliseconds from now until a timestamp (Infinity when unset). */
function msUntil(t: Timestamp | undefined, now: number): number {
  return t ? timestampDate(t).getTime() - now : Number.POSITIVE_INFINITY;
}

/** The expiry from --expires-in / --expires-at (default 30 days), checked against the 365-day limit. */
function expiryFrom(opts: { expiresIn?: string; expiresAt?: string }, now = new Date()): Date {
  if (opts.expiresIn && opts.expiresAt) throw new UsageError("give --expires-in or --expires-at, not both");
  let at: Date;
  if (opts.expiresAt) {
    at = new Date(opts.expiresAt);
    if (Number.isNaN(at.getTime()))
      throw new UsageError(`--expires-at must be a date like 2026-12-31 or 2026-12-31T12:00:00Z, not ${JSON.stringify(opts.expiresAt.slice(0, 40))}`);
  } else {
    at = new Date(now.getTime() + parseDuration(opts.expiresIn ?? "30d"));
  }
  if (at.getTime() <= now.getTime()) throw new UsageError("the expiry must be in the future");
  if (at.getTime() > now.getTime() + MAX_KEY_DAYS * 86_400_000)
    throw new UsageError(`API keys expire within ${MAX_KEY_DAYS} days: choose a shorter --expires-in (at most 365d or 1y)`);
  return at;
}

const NOT_FOUND_HINT = "check the id with `tessera apikeys list`";

/** API keys cannot manage API keys: say so before calling. */
function refuseApiKey(s: Session): void {
  if (s.config.apiKey) {
    throw new CliError(
      "TESSERA_API_KEY is set, but API keys cannot manage API keys (ApiKeyService refuses API-key callers by design, so a leaked key cannot mint more): unset TESSERA_API_KEY and run `tessera login`",
    );
  }
}

/** True when the key has not expired at `now` and expires within `ms`. */
function expiresWithin(k: AccountApiKey, now: number, ms: number): boolean {
  const left = msUntil(k.expiresAt, now);
  return left > 0 && left <= ms;
}

/** The last use: when, and from which address. */
function lastUse(k: AccountApiKey): string {
  if (!k.lastUsedAt) return "-";
  return k.lastUsedIp ? `${formatTime(k.lastUsedAt)} from ${k.lastUsedIp}` : formatTime(k.lastUsedAt);
}

function keyRow(k: AccountApiKey, soonMs: number, now: number): string[] {
  const left = msUntil(k.expiresAt, now);
  const expires = formatTime(k.expiresAt) + (left <= 0 ? " (expired)" : left <= soonMs ? " (expires soon)" : "");
  const old = k.previousValueExpiresAt ? `${formatTime(k.previousValueExpiresAt)} (${k.previousStart}…)` : "-";
  return [k.id, k.name, `${k.start}…`, formatTime(k.createdAt), expires, lastUse(k), old];
}

function keyFields(k: AccountApiKey): Array<[string, string]> {
  return [
    ["ID", k.id],
    ["Name", k.name],
    ["Account", k.accountId],
    ["Starts with", k.start],
    ["Machine user", k.userId],
    ["Created", `${formatTime(k.createdAt)} by ${k.createdById || "-"}`],
    ["Updated", `${formatTime(k.updatedAt)} by ${k.updatedById || "-"}`],
    ["Expires", formatTime(k.expiresAt)],
    ["Last used", lastUse(k)],
    ["Last user agent", k.lastUsedUserAgent || "-"],
    ["Old value", k.previousValueExpiresAt ? `${k.previousStart}… works until ${formatTime(k.previousValueExpiresAt)}` : "-"],
    ["Scopes", k.scopes.length > 0 ? k.scopes.join(" ") : "- (every procedure its role allows)"],
  ];
}

/** Prints a new key's value: alone on stdout (so `KEY=$(tessera apikeys create ...)` works), the rest on stderr. */
function showNewKey(k: AccountApiKey | undefined, value: string, what: string): void {
  note(`${what}; id ${k?.id}, expires ${formatTime(k?.expiresAt)}.`);
  note("Store it now (e.g. in your CI secrets): it cannot be shown again.");
  out(value);
}

/** Commander's collector for a repeatable option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const expiryHelp = "\nExpiry: --expires-in 30d | 12h | 2w | 1y (default 30d), or --expires-at 2026-12-31T00:00:00Z; at most 365 days.";

/** Adds the apikeys commands. */
export function registerApiKeys(program: Command): void {
  const apikeys = program
    .command("apikeys")
    .description("manage the current account's API keys (needs a login: API keys cannot manage keys)")
    .addHelpText("after", "\nThe account is the current one (`tessera accounts use`) unless --account is given.");

  apikeys
    .command("create")
    .description("create an API key; prints its value once")
    .requiredOption("--name <name>", "1 to 100 characters, unique in the account")
    .option("--expires-in <duration>", "lifetime, e.g. 30d, 12h, 2w, 1y (default 30d)")
    .option("--expires-at <date>", "expiry as an ISO date/time")
    .option("--account <id|name>", "account (default: the current one)")
    .option("--scope <scope>", "limit the key to a scope (repeatable), e.g. jobs:read, pkg.Service/Method, pkg.Service/*, *:read", collect, [])
    .addHelpText("after", `${expiryHelp}\nScopes: without --scope the key may call every procedure its role allows (docs/api-keys.md, "Scopes").`)
    .action(
      clientAction<{ name: string; expiresIn?: string; expiresAt?: string; account?: string; scope: string[] }>(async (s, _a, opts) => {
        const expiresAt = expiryFrom(opts);
        refuseApiKey(s);
        const account = await s.currentAccount(opts.account);
        const res = await s.call(
          s.client.apiKeys.createAccountApiKey({ accountId: account.id, name: opts.name, expiresAt: timestampFromDate(expiresAt), scopes: opts.scope }),
        );
        if (s.output === "json") printJson(toJson(CreateAccountApiKeyResponseSchema, res));
        else showNewKey(res.apiKey, res.keyValue, `Created API key "${res.apiKey?.name}" in account ${account.name}`);
      }),
    );

  apikeys
    .command("list")
    .description("list the account's API keys (never their values); keys expiring within 14 days are marked")
    .option("--account <id|name>", "account (default: the current one)")
    .option("--expiring <duration>", "only keys not expired yet that expire within this, e.g. 14d, 12h")
    .action(
      clientAction<{ account?: string; expiring?: string }>(async (s, _a, opts) => {
        const within = opts.expiring === undefined ? undefined : parseDuration(opts.expiring, "--expiring");
        refuseApiKey(s);
        const account = await s.currentAccount(opts.account);
        const { apiKeys: all } = await s.call(s.client.apiKeys.getAccountApiKeys({ accountId: account.id }));
        const now = Date.now();
        const apiKeys = within === undefined ? all : all.filter((k) => expiresWithin(k, now, within));
        if (s.output === "json") return printJson(apiKeys.map((k) => toJson(AccountApiKeySchema, k)));
        if (apiKeys.length === 0) {
          if (within !== undefined) return out(`no API keys in ${account.name} expire within ${opts.expiring}`);
          return out(`no API keys in ${account.name} (create one: tessera apikeys create --name NAME --expires-in 30d)`);
        }
        const soonMs = Math.max(SOON_MS, within ?? 0);
        printTable(
          ["id", "name", "starts with", "created", "expires", "last used", "old value until"],
          apiKeys.map((k) => keyRow(k, soonMs, now)),
        );
      }),
    );

  apikeys
    .command("get")
    .description("show one API key (never its value)")
    .argument("<id>", "key id")
    .action(
      clientAction(async (s, [id]) => {
        refuseApiKey(s);
        const { apiKey } = await s.call(s.client.apiKeys.getAccountApiKey({ id: id! }), NOT_FOUND_HINT);
        if (!apiKey) throw new CliError(`api key not found: ${NOT_FOUND_HINT}`);
        if (s.output === "json") printJson(toJson(AccountApiKeySchema, apiKey));
        else printFields(keyFields(apiKey));
      }),
    );

  apikeys
    .command("regenerate")
    .description("give a key a new value and expiry; the old value stops working at once, or after --overlap")
    .argument("<id>", "key id")
    .option("--expires-in <duration>", "new lifetime, e.g. 30d (default 30d)")
    .option("--expires-at <date>", "new expiry as an ISO date/time")
    .option("--overlap <duration>", "keep the old value working this long (at most 24h), e.g. 1h, for a zero-downtime rollout")
    .addHelpText(
      "after",
      `${expiryHelp}\nRotation: regenerate --overlap 1h, roll the new value out, then \`tessera apikeys revoke-old <id>\` (or let the overlap end).`,
    )
    .action(
      clientAction<{ expiresIn?: string; expiresAt?: string; overlap?: string }>(async (s, [id], opts) => {
        const expiresAt = expiryFrom(opts);
        const overlapSeconds = overlapFrom(opts.overlap);
        refuseApiKey(s);
        const res = await s.call(
          s.client.apiKeys.regenerateAccountApiKey({ id: id!, expiresAt: timestampFromDate(expiresAt), overlapSeconds }),
          NOT_FOUND_HINT,
        );
        if (s.output === "json") return printJson(toJson(RegenerateAccountApiKeyResponseSchema, res));
        const old = res.apiKey?.previousValueExpiresAt;
        const what = old
          ? `the old value ${res.apiKey?.previousStart}… keeps working until ${formatTime(old)}; end it sooner with \`tessera apikeys revoke-old ${id}\``
          : "the old value no longer works";
        showNewKey(res.apiKey, res.keyValue, `Regenerated API key "${res.apiKey?.name}" (${what})`);
      }),
    );

  apikeys
    .command("revoke-old")
    .description("end a key's old value (kept by regenerate --overlap) at once; the current value keeps working")
    .argument("<id>", "key id")
    .action(
      clientAction(async (s, [id]) => {
        refuseApiKey(s);
        const res = await s.call(s.client.apiKeys.revokeOldAccountApiKeyValue({ id: id! }), NOT_FOUND_HINT);
        if (s.output === "json") return printJson({ id, revocationSequence: res.revocationSequence.toString() });
        note(res.revocationSequence > 0n ? `the old value of API key ${id} no longer works` : `API key ${id} has no old value (nothing to revoke)`);
      }),
    );

  apikeys
    .command("delete")
    .description("revoke and delete a key at once")
    .argument("<id>", "key id")
    .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
    .action(
      clientAction<{ yes?: boolean }>(async (s, [id], opts) => {
        refuseApiKey(s);
        if (!opts.yes) {
          if (!process.stdin.isTTY) throw new UsageError("refusing to delete without confirmation: pass --yes");
          const { apiKey } = await s.call(s.client.apiKeys.getAccountApiKey({ id: id! }), NOT_FOUND_HINT);
          const answer = await ask(`Delete API key "${apiKey?.name}" (${id})? Anything using it stops working at once. [y/N] `);
          if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("not deleted");
        }
        await s.call(s.client.apiKeys.deleteAccountApiKey({ id: id! }), NOT_FOUND_HINT);
        if (s.output === "json") printJson({ deleted: id });
        else note(`deleted API key ${id}`);
      }),
    );
}
