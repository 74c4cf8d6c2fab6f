/**
 * Addresses for tests: a free TCP port on 127.0.0.1, and fresh client addresses that a
 * server trusting one proxy hop (TRUST_PROXY_HOPS=1) reads from X-Forwarded-For.
 */
import net from "node:net";

/** A free TCP port on 127.0.0.1 (the OS picks it; the listener closes before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

let lastAddress = 0;

/**
 * A client address no other call in this process has had (10.0.0.1, 10.0.0.2, ...), so
 * per-address abuse limits count each test's clients apart. Each test file runs in its
 * own process against its own server, so addresses never meet across files.
 */
export function freshIp(): string {
  const n = ++lastAddress;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}
