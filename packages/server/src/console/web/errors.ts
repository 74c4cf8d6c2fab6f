/** What the console does with a failed call. */
import { AuthMode, Code, ConnectError } from "@tessera/sdk";
import { tokenStore } from "./client.js";
import { closeDialog } from "./dialogs.js";
import { showBanner } from "./layout.js";
import { navigate } from "./navigation.js";
import { session } from "./session.js";

/** Handles a failed call: an ended session goes back to sign-in, anything else is shown (in `where`, else the banner). */
export async function failed(e: unknown, where?: HTMLElement): Promise<void> {
  const ce = ConnectError.from(e);
  if (ce.code === Code.Unauthenticated && session.authConfig?.mode !== AuthMode.NONE) {
    await tokenStore.clear();
    closeDialog();
    navigate.signIn("Your session has ended. Sign in again.");
    return;
  }
  if (where) where.textContent = ce.rawMessage;
  else showBanner(ce.rawMessage);
}
