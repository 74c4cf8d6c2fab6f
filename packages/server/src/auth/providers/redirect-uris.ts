/**
 * The redirect-URI allow-list of provider logins: exact matches, and for loopback URIs
 * (native apps such as the CLI) any port (RFC 8252 section 7.3).
 */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]"]);

function loopbackKey(u: URL): string | undefined {
  if (u.protocol !== "http:" || !LOOPBACK_HOSTS.has(u.hostname)) return undefined;
  if (u.username !== "" || u.password !== "" || u.hash !== "") return undefined;
  return `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
}

/**
 * Whether `uri` is allowed: equal to an allow-listed URI exactly, or, for loopback
 * URIs (`http://127.0.0.1:<port>/...`, `http://[::1]:<port>/...`), equal except for
 * the port (RFC 8252 section 7.3). `localhost` gets no port variance.
 */
export function isAllowedRedirectUri(uri: string, allowed: readonly string[]): boolean {
  if (uri === "" || uri.length > 2048) return false;
  if (allowed.includes(uri)) return true;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  // Only the canonical spelling may vary its port: no dot segments, case or encoding games.
  if (u.href !== uri && `${u.href}` !== `${uri}/`) return false;
  const key = loopbackKey(u);
  if (key === undefined) return false;
  for (const a of allowed) {
    let au: URL;
    try {
      au = new URL(a);
    } catch {
      continue;
    }
    if (loopbackKey(au) === key) return true;
  }
  return false;
}
