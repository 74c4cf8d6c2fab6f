/**
 * An in-memory Tessera for the interceptor's unit tests: AuthService (GetAuthConfig,
 * CheckToken, counting calls) and RevocationService (WatchRevocations with heartbeats,
 * resume from `after_sequence`, `reset`; AckRevocations recorded), over
 * createRouterTransport; and a JWKS served over HTTP on port 0 for its access tokens.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import {
  AuthService,
  PrincipalKind,
  RevocationEventSchema,
  RevocationService,
  type RevocationEvent,
  type WatchRevocationsResponseSchema,
} from "@tessera/sdk/proto";

export const FAKE_ISSUER = "http://fake-tessera";

/** What a test can change or observe. */
export interface FakeTessera {
  transport: Transport;
  /** Base URL serving /.well-known/jwks.json. */
  url: string;
  /** CheckToken calls so far. */
  checks: number;
  /** `after_sequence` of every WatchRevocations call. */
  watches: bigint[];
  /** AckRevocations calls: applied sequences. */
  acks: bigint[];
  /** API keys Tessera accepts (`tsk_...`), with their machine user. */
  keys: Map<string, string>;
  /** Sessions ended (CheckToken refuses their JWTs). */
  endedSessions: Set<string>;
  /** Stop heartbeats (the stream stays open but silent). */
  silent: boolean;
  /** Refuse new streams and CheckToken with Unavailable. */
  down: boolean;
  /** Next stream starts with `reset`. */
  resetNext: boolean;
  /** Records a revocation and pushes it to the open streams; returns its sequence. */
  revoke(target: RevocationEvent["target"]): bigint;
  /** Ends every open stream with an error (a crash of the connection). */
  killStreams(): void;
  /** A Tessera access token (ES256) for `sub`. */
  jwt(sub: string, o?: { sid?: string; kid?: string; iatOffsetS?: number }): Promise<string>;
  close(): Promise<void>;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
export { sha256 };

/** Starts the fake (the JWKS server on 127.0.0.1:0); heartbeats every `heartbeatMs`. */
export async function startFakeTessera(heartbeatMs = 50): Promise<FakeTessera> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const server = http.createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const history: RevocationEvent[] = [];
  const wakers = new Set<() => void>();
  const killers = new Set<(e: Error) => void>();
  let subscribers = 0;

  const fake: FakeTessera = {
    transport: undefined as unknown as Transport,
    url,
    checks: 0,
    watches: [],
    acks: [],
    keys: new Map(),
    endedSessions: new Set(),
    silent: false,
    down: false,
    resetNext: false,
    revoke(target) {
      const sequence = BigInt(history.length + 1);
      history.push(create(RevocationEventSchema, { sequence, createdAt: timestampFromDate(new Date()), target }));
      for (const w of wakers) w();
      return sequence;
    },
    killStreams() {
      for (const k of killers) k(new ConnectError("connection reset", Code.Unavailable));
    },
    async jwt(sub, o = {}) {
      const iat = Math.floor(Date.now() / 1000) + (o.iatOffsetS ?? 0);
      return new SignJWT({ sid: o.sid ?? "s-1" })
        .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: o.kid ?? "k1" })
        .setIssuer(FAKE_ISSUER)
        .setAudience(FAKE_ISSUER)
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 900)
        .sign(privateKey as CryptoKey);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  async function* watch(after: bigint, signal: AbortSignal): AsyncGenerator<MessageInitShape<typeof WatchRevocationsResponseSchema>> {
    const id = `sub-${++subscribers}`;
    let cursor = after === 0n ? BigInt(history.length) : after;
    let failure: Error | undefined;
    let wake: () => void = () => {};
    const waker = () => wake();
    const killer = (e: Error) => {
      failure = e;
      wake();
    };
    wakers.add(waker);
    killers.add(killer);
    try {
      let reset = fake.resetNext;
      fake.resetNext = false;
      let first = true;
      while (!signal.aborted) {
        if (failure) throw failure;
        const events = history.filter((e) => e.sequence > cursor);
        if (events.length) cursor = events[events.length - 1]!.sequence;
        if (first || events.length || !fake.silent) {
          yield { events, headSequence: BigInt(history.length), reset, subscriberId: id };
          reset = false;
          first = false;
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, heartbeatMs);
          wake = () => {
            clearTimeout(t);
            r();
          };
          signal.addEventListener("abort", wake, { once: true });
        });
      }
    } finally {
      wakers.delete(waker);
      killers.delete(killer);
    }
  }

  fake.transport = createRouterTransport((router) => {
    router.service(AuthService, {
      getAuthConfig: () => ({ issuer: FAKE_ISSUER }),
      checkToken(_req, ctx) {
        fake.checks++;
        if (fake.down) throw new ConnectError("down", Code.Unavailable);
        const token = (ctx.requestHeader.get("authorization") ?? "").slice(7);
        const expiresAt = timestampFromDate(new Date(Date.now() + 3600_000));
        const machine = fake.keys.get(token);
        if (machine) return { userId: machine, principalKind: PrincipalKind.API_KEY, accountId: "acc-1", apiKeyId: `id-${token}`, expiresAt };
        if (token.split(".").length === 3) {
          const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { sub: string; sid: string };
          if (!fake.endedSessions.has(payload.sid)) return { userId: payload.sub, principalKind: PrincipalKind.USER, expiresAt };
        }
        throw new ConnectError("invalid token", Code.Unauthenticated);
      },
    });
    router.service(RevocationService, {
      async *watchRevocations(req, ctx) {
        fake.watches.push(req.afterSequence);
        if ((ctx.requestHeader.get("authorization") ?? "") !== "Bearer tsk_watcher") throw new ConnectError("not allowed to watch", Code.PermissionDenied);
        if (fake.down) throw new ConnectError("down", Code.Unavailable);
        yield* watch(req.afterSequence, ctx.signal);
      },
      ackRevocations(req) {
        fake.acks.push(req.appliedSequence);
        return {};
      },
      getRevocationStatus: () => ({}),
    });
  });
  return fake;
}

/** Polls `probe` every 10 ms until it is true or `limitMs` passed; returns whether it became true. */
export async function eventually(probe: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}
