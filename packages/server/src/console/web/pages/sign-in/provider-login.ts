/**
 * Sign-in (or linking) through one of the server's identity providers: authorization code with PKCE. The
 * verifier and state stay in this tab's sessionStorage across the redirect; the code
 * comes back to /console/callback and leaves the address bar at once.
 */
import { MfaRequiredError, tokensFromSignIn, type MfaChallenge } from "@tessera/sdk";
import { tessera } from "../../client.js";
import { message } from "../../format.js";

/** The sessionStorage key holding the login in progress (state, verifier, redirect URI). */
const LOGIN_KEY = "tessera.console.login";

/** Where the provider sends the browser back to. */
export const CALLBACK_PATH = "/console/callback";

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Starts a provider login: PKCE verifier and state kept in this tab, then off to the
 * provider. With `link`, the signed-in user's session goes along, the provider's account
 * is linked to it, and the callback returns to the sign-in methods page.
 */
export async function startProviderLogin(providerId: string, opts: { link?: boolean } = {}): Promise<void> {
  if (!crypto.subtle) throw new Error("Signing in with the provider needs a secure page: open the console over HTTPS (or on localhost).");
  const state = randomString();
  const verifier = randomString();
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const redirectUri = `${location.origin}${CALLBACK_PATH}`;
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ state, verifier, redirectUri, link: opts.link === true }));
  const { url } = await tessera.auth.getAuthorizeUrl({ redirectUri, state, codeChallenge: challenge, providerId, link: opts.link === true });
  location.assign(url);
}

/** A provider login that needs its second factor: the challenge, and what to do once it is passed. */
export interface PendingMfa {
  challenge: MfaChallenge;
  /** Ends the session a link started from (a link signs the same user in again). */
  after: () => Promise<void>;
}

/**
 * Completes the OpenID login on /console/callback; returns an error to show, or the
 * challenge when the server asks for the second factor, or nothing when signed in.
 */
export async function finishProviderLogin(): Promise<string | PendingMfa | undefined> {
  const q = new URLSearchParams(location.search);
  const raw = sessionStorage.getItem(LOGIN_KEY);
  sessionStorage.removeItem(LOGIN_KEY);
  const saved = raw ? (JSON.parse(raw) as { state: string; verifier: string; redirectUri: string; link?: boolean }) : undefined;
  // The code leaves the address bar and history; a link returns to the sign-in methods.
  history.replaceState(null, "", saved?.link ? "/console/#/sign-in-methods" : "/console/");
  if (q.get("error")) return `The identity provider did not sign you in (${q.get("error")}).`;
  const code = q.get("code");
  if (!saved || !code || q.get("state") !== saved.state) return "This sign-in was not started in this tab. Start again.";
  try {
    const res = await tessera.auth.exchangeCode({
      code,
      redirectUri: saved.redirectUri,
      codeVerifier: saved.verifier,
      state: saved.state,
      iss: q.get("iss") ?? "",
    });
    const previous = saved.link ? await tessera.getTokens() : undefined;
    // A link signs the same user in again: the session it started from is ended.
    const after = async () => {
      if (previous) await tessera.auth.logout({ refreshToken: previous.refreshToken }).catch(() => {});
    };
    try {
      await tessera.setTokens(tokensFromSignIn(res));
    } catch (e) {
      if (e instanceof MfaRequiredError) return { challenge: e.challenge, after };
      throw e;
    }
    await after();
    return undefined;
  } catch (e) {
    return message(e);
  }
}
