/**
 * The console's top-level moves (sign in, enter, switch account). app.ts wires them to
 * the sign-in page and the shell at start, so pages can call them without importing
 * either: the modules import one way, with no cycles.
 */

/** What a page may ask of the console as a whole. */
export interface Navigation {
  /** Shows the sign-in page, with an optional notice. */
  signIn(notice?: string): void;
  /** Enters the signed-in console: loads the user and their accounts, then shows the current page. */
  enter(): Promise<void>;
  /** Switches to an account and shows the current page for it. */
  useAccount(id: string): void;
}

let wired: Navigation | undefined;

const current = (): Navigation => {
  if (!wired) throw new Error("console navigation used before app.ts wired it");
  return wired;
};

/** Wires the moves (app.ts, once at start). */
export function setNavigation(n: Navigation): void {
  wired = n;
}

/** The moves, usable from any module once app.ts has wired them. */
export const navigate: Navigation = {
  signIn: (notice) => current().signIn(notice),
  enter: () => current().enter(),
  useAccount: (id) => current().useAccount(id),
};
