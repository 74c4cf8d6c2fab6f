/**
 * A real SMTP server for tests (`smtp-server`), on 127.0.0.1 and a free port: it accepts
 * every mail (any or no login, no TLS), parses it (`mailparser`) and keeps it for the
 * test. `failNext(n)` answers the next n deliveries with a temporary failure (451), to
 * exercise the mailer's retries; `delay(ms)` holds each answer to a mail that long (a slow
 * relay). Point a server at it with `SMTP_URL: sink.url`. `startSilentSmtpServer()` is
 * the opposite: it accepts connections and never says a word.
 */
import net from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/** One captured mail. */
export interface CapturedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>` */
  url: string;
  /** Every mail received so far. */
  mails: CapturedMail[];
  /** Answers the next `n` deliveries with 451 (try again later). */
  failNext(n: number): void;
  /** Holds the answer to each later mail `ms` milliseconds (0: answer at once). */
  delay(ms: number): void;
  /** Deliveries refused by `failNext` so far. */
  refused(): number;
  /** The first mail (received now or within `timeoutMs`) that matches; throws after the bound. */
  waitFor(match: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  close(): Promise<void>;
}

/** Starts the sink. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: CapturedMail[] = [];
  let failing = 0;
  let refusedCount = 0;
  let delayMs = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onAuth: (_auth, _session, cb) => cb(null, { user: "test" }),
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then(async (parsed) => {
          if (delayMs > 0) await new Promise((res) => setTimeout(res, delayMs));
          if (failing > 0) {
            failing--;
            refusedCount++;
            const err = Object.assign(new Error("try again later"), { responseCode: 451 });
            return cb(err);
          }
          const addr = (a: unknown) => ((a as { text?: string } | undefined)?.text ?? "").trim();
          mails.push({
            to: addr(parsed.to),
            from: addr(parsed.from),
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
            html: typeof parsed.html === "string" ? parsed.html : "",
          });
          cb();
        })
        .catch((e: Error) => cb(e));
    },
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    failNext: (n) => {
      failing = n;
    },
    delay: (ms) => {
      delayMs = ms;
    },
    refused: () => refusedCount,
    async waitFor(match, timeoutMs = 10_000) {
      const start = Date.now();
      for (;;) {
        const found = mails.find(match);
        if (found) return found;
        if (Date.now() - start > timeoutMs)
          throw new Error(`no matching mail within ${timeoutMs} ms (got ${mails.length}: ${mails.map((m) => m.subject).join("; ")})`);
        await new Promise((res) => setTimeout(res, 20));
      }
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

/** The token of the first link in a mail's text that has `path` (e.g. `/verify-email`). */
export function linkToken(mail: CapturedMail, path: string): string {
  const m = mail.text.match(new RegExp(`https?://\\S+${path}\\?token=([A-Za-z0-9_-]+)`));
  if (!m?.[1]) throw new Error(`no ${path} link in the mail "${mail.subject}"`);
  return m[1];
}

/** A TCP server that accepts SMTP connections and never greets; `close()` also cuts the open ones. */
export async function startSilentSmtpServer(): Promise<{ url: string; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
