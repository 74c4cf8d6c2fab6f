/**
 * Who a provider may sign in: with `requireVerifiedEmail` (every provider but the
 * AUTH_BASEURL `default`) the provider must vouch for the email; with allowed domains
 * only a verified email of one of them, and, for Google Workspace (`checkHostedDomain`),
 * an `hd` claim naming one of them too (an email domain alone can be a consumer account
 * at a domain the Workspace does not own).
 */
import type { ProviderConfig } from "../../config/config.js";
import type { ProviderProfile } from "../oidc/profile.js";

/** Why a provider user is refused (the audit reason and the caller's message), or undefined when admitted. */
export interface Refusal {
  reason: "email_missing" | "email_unverified" | "domain_not_allowed" | "hosted_domain_not_allowed";
  message: string;
}

/** The domain of an email (lower-case), or undefined. */
function domainOf(email: string): string | undefined {
  const at = email.lastIndexOf("@");
  return at < 1 ? undefined : email.slice(at + 1).toLowerCase();
}

/** Applies the provider's rules to who it says signed in. */
export function admissionRefusal(config: ProviderConfig, profile: ProviderProfile, claims: Readonly<Record<string, unknown>>): Refusal | undefined {
  const domains = config.allowedDomains;
  if (!config.requireVerifiedEmail && domains.length === 0) return undefined;
  if (profile.email === null) return { reason: "email_missing", message: `${config.name} gave no email for this account; a verified email is required` };
  if (!profile.emailVerified) return { reason: "email_unverified", message: `${config.name} has not verified this account's email; verify it there first` };
  if (domains.length === 0) return undefined;
  const domain = domainOf(profile.email);
  if (domain === undefined || !domains.includes(domain)) {
    return { reason: "domain_not_allowed", message: `sign-in with ${config.name} is limited to emails of ${domains.join(", ")}` };
  }
  if (config.kind === "oidc" && config.checkHostedDomain) {
    const hd = typeof claims.hd === "string" ? claims.hd.toLowerCase() : undefined;
    if (hd === undefined || !domains.includes(hd)) {
      return { reason: "hosted_domain_not_allowed", message: `sign-in with ${config.name} is limited to the organizations of ${domains.join(", ")}` };
    }
  }
  return undefined;
}
