/**
 * The "New API key" dialog's optional restrictions: scopes (the known scopes of Tessera's
 * services, read from their descriptors, plus any typed in, e.g. an embedding service's),
 * one rate limit and a usage budget. The server checks them all (unknown scopes,
 * escalation, bounds) and its message is shown.
 */
import { scopesOf } from "@tessera/sdk";
import {
  AccountRecoveryService,
  ApiKeyService,
  AuthService,
  DeviceLoginService,
  IdentityService,
  RevocationService,
  UserAccountService,
} from "@tessera/sdk/proto";
import { h } from "../../dom.js";

/** Windows offered for the rate limit. */
const WINDOWS: Array<[string, number]> = [
  ["per second", 1],
  ["per minute", 60],
  ["per hour", 3600],
  ["per day", 86_400],
];

/** What the restrictions add to CreateAccountApiKeyRequest. */
export interface Restrictions {
  scopes: string[];
  rateLimits: Array<{ limit: number; windowSeconds: number }>;
  budget?: { uses: bigint; refillAmount: bigint; refillIntervalSeconds: number };
}

/** The scopes, rate limit and budget fields; `value()` throws a message to show when a field is invalid. */
export function restrictionsPicker(): { el: HTMLElement; value(): Restrictions } {
  // Tessera's services (as auth/policy/services.ts lists them): the scopes it knows.
  const known = scopesOf([AuthService, ApiKeyService, UserAccountService, RevocationService, DeviceLoginService, IdentityService, AccountRecoveryService]);
  const scopes = h("select", { id: "key-scopes", name: "scopes", multiple: true, size: 6 }, ...known.map((s) => h("option", { value: s }, s)));
  const other = h("input", { id: "key-scopes-other", name: "scopes-other", autocomplete: "off", placeholder: "e.g. jobs:read billing.v1.Invoices/*" });
  const limit = h("input", { id: "key-rate-limit", name: "rate-limit", type: "number", min: 1, step: 1, placeholder: "no limit" });
  const window = h("select", { id: "key-rate-window", name: "rate-window" }, ...WINDOWS.map(([label, s]) => h("option", { value: String(s) }, label)));
  window.value = "60";
  const budget = h("input", { id: "key-budget", name: "budget", type: "number", min: 1, step: 1, placeholder: "unlimited" });
  const whole = (input: HTMLInputElement, what: string): number | undefined => {
    const raw = input.value.trim();
    if (raw === "") return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a whole number of at least 1.`);
    return n;
  };
  return {
    el: h(
      "details",
      { class: "restrictions" },
      h("summary", {}, "Scopes and limits (optional)"),
      h("label", { for: "key-scopes" }, "Scopes (none selected: every procedure your role allows)"),
      scopes,
      h("label", { for: "key-scopes-other" }, "Other scopes (space-separated)"),
      other,
      h("label", { for: "key-rate-limit" }, "Rate limit (calls)"),
      h("div", { class: "inline" }, limit, window),
      h("label", { for: "key-budget" }, "Usage budget (calls in all)"),
      budget,
    ),
    value() {
      const picked = Array.from(scopes.selectedOptions, (o) => o.value);
      const typed = other.value.split(/\s+/).filter((s) => s !== "");
      const n = whole(limit, "The rate limit");
      const uses = whole(budget, "The budget");
      return {
        scopes: [...new Set([...picked, ...typed])],
        rateLimits: n === undefined ? [] : [{ limit: n, windowSeconds: Number(window.value) }],
        budget: uses === undefined ? undefined : { uses: BigInt(uses), refillAmount: 0n, refillIntervalSeconds: 0 },
      };
    },
  };
}
