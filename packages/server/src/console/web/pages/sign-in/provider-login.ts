/**
 * Sign-in through the server's OpenID provider: authorization code with PKCE. The
 * verifier and state stay in this tab's sessionStorage across the redirect; the code
 * comes back to /console/callback and leaves the address bar at once.
 */
import { tokensFromMessage } from "@tessera/sdk";
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

/** Starts the OpenID login: PKCE verifier and state kept in this tab, then off to the provider. */
export async function startProviderLogin(providerId: string): Promise<void> {
  if (!crypto.subtle) throw new Error("Signing in with the provider needs a secure page: open the console over HTTPS (or on localhost).");
  const state = randomString();
  const verifier = randomString();
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const redirectUri = `${location.origin}${CALLBACK_PATH}`;
  sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ state, verifier, redirectUri }));
  const { url } = await tessera.auth.getAuthorizeUrl({ redirectUri, state, codeChallenge: challenge, providerId });
  location.assign(url);
}

/** Completes the OpenID login on /console/callback; returns an error to show, if any. */
export async function finishProviderLogin(): Promise<string | undefined> {
  const q = new URLSearchParams(location.search);
  history.replaceState(null, "", "/console/"); // the code leaves the address bar and history
  const raw = sessionStorage.getItem(LOGIN_KEY);
  sessionStorage.removeItem(LOGIN_KEY);
  const saved = raw ? (JSON.parse(raw) as { state: string; verifier: string; redirectUri: string }) : undefined;
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
    if (!res.tokens) return "The server answered without tokens.";
    await tessera.setTokens(tokensFromMessage(res.tokens));
    return undefined;
  } catch (e) {
    return message(e);
  }
}
