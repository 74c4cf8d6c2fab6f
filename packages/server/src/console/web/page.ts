/** The shape of a page in the signed-in console (one entry in the nav). */
import type { UserAccount } from "@tessera/sdk/proto";

/** A page of the signed-in console: a nav link `#/<id>` (it also shows at `#/<id>/...`) and what it renders into the view. */
export interface Page {
  /** The route: the page shows at `#/<id>`. */
  id: string;
  /** The nav link's text. */
  title: string;
  /** Renders the page for the account in use (its own errors go through `failed`). */
  render(account: UserAccount): Promise<void>;
  /** Whether the signed-in user has the page (default: everyone); hidden pages are neither listed nor routed to. */
  visible?(): boolean;
}
