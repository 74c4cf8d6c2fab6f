/**
 * A raw HTTP/2 client over a TCP socket, for tests that must do what well-behaved
 * clients never do: ignore the server's SETTINGS, trickle the preface or a header block.
 * It acknowledges the server's SETTINGS and records every frame it receives.
 */
import net from "node:net";

/** The client connection preface. */
export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Frame types and flags used here (RFC 9113 §6). */
export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7, CONTINUATION: 0x9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Encodes one frame. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK header block of literal fields without indexing (names and values under 127 bytes). */
export function headerBlock(headers: Array<[string, string]>): Buffer {
  const lit = (s: string) => {
    const b = Buffer.from(s);
    if (b.length > 126) throw new Error("headerBlock: string too long for this encoder");
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  return Buffer.concat(headers.map(([k, v]) => Buffer.concat([Buffer.from([0]), lit(k), lit(v)])));
}

/** The settings of a SETTINGS frame's payload, by identifier. */
export function settingsOf(f: Frame): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) m.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return m;
}

export interface RawH2 {
  sock: net.Socket;
  frames: Frame[];
  closed: () => boolean;
  /** Resolves when the server closes the connection. */
  whenClosed: Promise<void>;
  write(bytes: Buffer): void;
  close(): void;
}

/** Connects to 127.0.0.1:port (optionally from another loopback address); sends nothing yet. */
export function rawH2(port: number, localAddress?: string): RawH2 {
  const sock = net.connect({ port, host: "127.0.0.1", localAddress });
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  let closed = false;
  sock.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const f: Frame = { type: buf[3]!, flags: buf[4]!, streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
      buf = buf.subarray(9 + len);
      frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && !sock.destroyed) sock.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    }
  });
  sock.on("error", () => {});
  const whenClosed = new Promise<void>((resolve) =>
    sock.on("close", () => {
      closed = true;
      resolve();
    }),
  );
  return {
    sock,
    frames,
    closed: () => closed,
    whenClosed,
    write: (bytes) => {
      if (!sock.destroyed) sock.write(bytes);
    },
    close: () => sock.destroy(),
  };
}
