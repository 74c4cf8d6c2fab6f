/** The page's fixed regions (index.html): the view pages render into and the banner. */
import { byId } from "./dom.js";

/** The main region every page replaces. */
export const view = (): HTMLElement => byId("view");

/** Shows a banner above the view (empty text hides it). */
export function showBanner(text: string, kind: "error" | "info" = "error"): void {
  const b = byId("banner");
  b.className = kind === "info" ? "banner info" : "banner";
  b.textContent = text;
  b.hidden = text === "";
}
