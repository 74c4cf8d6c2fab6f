/**
 * What every handler that returns a credential does to its response.
 */
import type { HandlerContext } from "@connectrpc/connect";

/** Marks a response that carries a credential as never to be stored by a cache (RFC 6749 5.1). */
export function noStore(ctx: HandlerContext): void {
  ctx.responseHeader.set("cache-control", "no-store");
  ctx.responseHeader.set("pragma", "no-cache");
}
