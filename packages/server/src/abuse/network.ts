/**
 * The client network that per-IP abuse limits count: an IPv4 address as itself, an
 * IPv6 address by its /64 (one subscriber usually holds a whole /64, so counting full
 * addresses would give every client 2^64 budgets), and an IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.5`, `::ffff:c000:205`) as the IPv4 address it carries.
 */
import { isIPv4, isIPv6 } from "node:net";

/** Parses an IPv6 address (no zone) into its eight 16-bit groups; undefined when it is not one. */
function ipv6Groups(ip: string): number[] | undefined {
  if (!isIPv6(ip)) return undefined;
  let text = ip.toLowerCase();
  const tail: number[] = [];
  // An embedded dotted IPv4 tail (`::ffff:192.0.2.5`) makes the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = dotted[1]!.split(".").map(Number);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    text = text.slice(0, -dotted[1]!.length);
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = [...parse(rest ?? ""), ...tail];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<number>(fill).fill(0), ...right];
  return groups.length === 8 ? groups : undefined;
}

/** The network key of a client IP (see the file comment); anything unparseable is returned as is. */
export function networkOf(ip: string): string {
  if (isIPv4(ip)) return ip;
  const bare = ip.split("%")[0]!;
  const g = ipv6Groups(bare);
  if (!g) return ip;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  }
  // The /64 prefix, compressed the usual way (no leading zeros; trailing zero groups as `::`).
  const prefix = g.slice(0, 4);
  while (prefix.length > 0 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((x) => x.toString(16)).join(":")}::/64`;
}
