/**
 * What Tessera keeps of a provider user's claims: email (with whether the provider
 * verified it), name and picture. Read from ID tokens at login and from bearer access
 * tokens; invites trust only an email with `emailVerified` (issue 13, finding 9).
 */
import type { JWTPayload } from "jose";
import type { IdentityRow } from "../../store/schema.js";
import { normalizeEmail } from "../passwords/email.js";

/** Profile facts of a provider user. */
export interface ProviderProfile {
  email: string | null;
  /** The provider said `email_verified: true` for this email. */
  emailVerified: boolean;
  name: string | null;
  image: string | null;
}

function claimString(claims: JWTPayload, name: string, max: number): string | null {
  const v = claims[name];
  if (typeof v !== "string") return null;
  const t = v.trim();
  return t === "" ? null : t.slice(0, max);
}

/** Profile facts from ID-token or access-token claims (a verified email only with `email_verified: true`). */
export function profileFromClaims(claims: JWTPayload): ProviderProfile {
  const picture = claimString(claims, "picture", 2048);
  const email = claimString(claims, "email", 320);
  return {
    email,
    emailVerified: email !== null && claims.email_verified === true,
    name: claimString(claims, "name", 256),
    image: picture !== null && /^https?:\/\//i.test(picture) ? picture : null,
  };
}

/**
 * The stored profile refreshed by newer claims: a present claim replaces, an absent one
 * keeps. `email_verified` counts only with its email: `true` or `false` says so; without
 * it, the stored flag survives only when the email is the same address.
 * Undefined when nothing changes.
 */
export function refreshedProfile(stored: ProviderProfile, claims: JWTPayload): ProviderProfile | undefined {
  const fresh = profileFromClaims(claims);
  let emailVerified = stored.emailVerified;
  if (fresh.email !== null) {
    const said = claims.email_verified;
    const sameAddress = stored.email !== null && normalizeEmail(stored.email) === normalizeEmail(fresh.email);
    emailVerified = said === true ? true : said === false ? false : sameAddress && stored.emailVerified;
  }
  const next: ProviderProfile = {
    email: fresh.email ?? stored.email,
    emailVerified,
    name: fresh.name ?? stored.name,
    image: fresh.image ?? stored.image,
  };
  const same = next.email === stored.email && next.emailVerified === stored.emailVerified && next.name === stored.name && next.image === stored.image;
  return same ? undefined : next;
}

/** The profile stored on an identity row. */
export function profileOfIdentity(identity: Pick<IdentityRow, "email" | "email_verified" | "name" | "image">): ProviderProfile {
  return { email: identity.email, emailVerified: identity.email_verified, name: identity.name, image: identity.image };
}
