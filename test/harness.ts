/**
 * The one test harness: `useTessera(options)` inside a `describe` registers its own
 * hooks (a fresh database from the migrated template before the tests, the real
 * application on 127.0.0.1 and a free port, and in `afterAll` every server closed and
 * the database dropped, each step guarded so one failure does not leak the others) and
 * hands the tests what they use: the server and its clients, the database, `signUp()`,
 * fresh client addresses and a clock they can move. Built the way kysely's
 * `TestContext` and unkey's `RouteHarness` are: one place knows how a test gets a
 * Tessera, every file asks it.
 *
 * ```ts
 * describe.each(DB_KINDS)("sessions on %s", (db) => {
 *   const t = useTessera({ db, env: { AUTH_MODE: "full" }, forwardedFor: true });
 *   it("...", async () => {
 *     const user = await t.signUp();
 *     await t.client(AuthService, { token: user.accessToken }).checkToken({});
 *     t.clock.advance(3600);
 *   });
 * });
 * ```
 *
 * Per-address abuse limits: with `forwardedFor: true` the server trusts one proxy hop
 * (TRUST_PROXY_HOPS=1) and every transport, client and sign-up the harness makes comes
 * from its own address (X-Forwarded-For, `freshIp()`), so tests that make many users
 * never meet the per-address limits they do not test. Tests of those limits pass `ip`.
 */
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import type { KyselyPlugin } from "kysely";
import { afterAll, beforeAll } from "vitest";
import { AuthService, type Tokens } from "../packages/sdk/src/gen/tessera/v1/auth_pb.js";
import type { Clock } from "../packages/server/src/deps.js";
import { testClock, type TestClock } from "./helpers/clock.js";
import { createTestDatabase, type DbKind, type TestDatabase } from "./helpers/db.js";
import { freshIp } from "./helpers/net.js";
import { startTestProvider, type TestProvider, type TestProviderOptions } from "./helpers/oidc-provider.js";
import { startTestServer, type Protocol, type StartOptions, type TestServer } from "./helpers/server.js";
import { startSmtpSink, type SmtpSink } from "./helpers/smtp-sink.js";

export { DB_KINDS, type TestDatabase } from "./helpers/db.js";
export { freshIp } from "./helpers/net.js";
export type { Protocol, TestServer } from "./helpers/server.js";
export { linkToken, type CapturedMail, type SmtpSink } from "./helpers/smtp-sink.js";

/** The password `signUp()` uses unless told otherwise. */
const TEST_PASSWORD = "correct horse battery staple";

type Env = Record<string, string>;

interface UseTesseraOptions {
  /** Which database (default `postgres`). */
  db?: DbKind;
  /** Environment for the server's config (AUTH_MODE, ...); a function when it depends on an earlier hook (an OpenID provider's issuer). */
  env?: Env | (() => Env);
  /** The server's clock (default `t.clock`, real time until a test moves it). */
  clock?: Clock;
  /** Trust one proxy hop and give every client the harness makes its own X-Forwarded-For address. */
  forwardedFor?: boolean;
  /** Start a server in `beforeAll` (default true); with false the tests start their own with `t.startServer()`. */
  server?: boolean;
  /** Let the server open its own connection from the database's env instead of sharing the test's. */
  ownDatabase?: boolean;
  /** Kysely plugins on the connection the servers share (a TableQueryCounter, say); not with `ownDatabase`. */
  plugins?: KyselyPlugin[];
}

/** Options of one client the harness makes. */
interface ClientOptions {
  /** A bearer token. */
  token?: string;
  protocol?: Protocol;
  /** The client address (X-Forwarded-For); default a fresh one with `forwardedFor`, none without. */
  ip?: string;
  /** More request headers (user-agent, ...). */
  headers?: Record<string, string>;
}

/** What `signUp()` made: the credentials and the tokens of a new user. */
export interface SignedUp {
  email: string;
  password: string;
  name: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  /** The whole SignUp answer's tokens. */
  tokens: Tokens;
}

interface SignUpOptions {
  email?: string;
  password?: string;
  /** The display name (default none). */
  name?: string;
  /** Another server of this harness to sign up on (default `t.server`). */
  server?: TestServer;
  /** The client address (default as for `client()`). */
  ip?: string;
  /** More request headers (user-agent, ...). */
  headers?: Record<string, string>;
  /**
   * Mark the email verified, as if the mailed link had been followed (default true, so
   * tests of other features can accept invites); tests of verification pass false and
   * follow the real link (test/helpers/smtp-sink.ts).
   */
  verified?: boolean;
}

export interface Tessera {
  /** The database kind. */
  readonly kind: DbKind;
  readonly database: TestDatabase;
  /** The server started in `beforeAll` (a stand-in until then: hold it anywhere, use it in tests and hooks). */
  readonly server: TestServer;
  readonly baseUrl: string;
  /** The server's log lines so far. */
  readonly logs: string[];
  /** The clock every server of this harness runs on (unless `clock` was given). */
  readonly clock: TestClock;
  /** A fresh client address (see `freshIp`). */
  freshIp(): string;
  /** A transport to `t.server` with a client's headers (address, bearer token, extras). */
  transport(protocol?: Protocol, opts?: ClientOptions): Transport;
  /** A typed client to `t.server`, from its own address when `forwardedFor`. */
  client<S extends DescService>(service: S, opts?: ClientOptions): Client<S>;
  /** A typed client to another server of this harness. */
  clientOf<S extends DescService>(server: TestServer, service: S, opts?: ClientOptions): Client<S>;
  /** Signs up a new user with a password (unique email unless given). */
  signUp(opts?: SignUpOptions): Promise<SignedUp>;
  /**
   * Starts another server on this database with the harness's env and clock unless
   * given others (`env` replaces the harness's; `forwardedFor` still applies); closed in `afterAll` if the test
   * does not close it first (closing twice is safe).
   */
  startServer(opts?: StartOptions): Promise<TestServer>;
  /**
   * Another server on this database for the whole describe (as `startServer`, in a
   * `beforeAll` after the harness's own; closed with the others). Call it in the
   * describe body; the returned server is usable inside tests and later hooks.
   */
  useServer(opts?: StartOptions): TestServer;
}

let users = 0;

/** Registers the hooks of one Tessera for the enclosing `describe` and returns its handle. */
export function useTessera(options: UseTesseraOptions = {}): Tessera {
  const kind = options.db ?? "postgres";
  const clock = testClock();
  const proxyEnv: Env = options.forwardedFor ? { TRUST_PROXY_HOPS: "1" } : {};
  const servers: TestServer[] = [];
  let database: TestDatabase | undefined;
  let server: TestServer | undefined;
  let baseEnv: Env = {};

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useTessera: no ${what} yet (use it inside tests and hooks, after the harness's beforeAll)`);
    return value;
  };

  async function startServer(opts: StartOptions = {}): Promise<TestServer> {
    const d = need(database, "database");
    const kysely = (options.plugins ?? []).reduce((k, plugin) => k.withPlugin(plugin), d.db.kysely);
    const s = await startTestServer(options.plugins ? { ...d, db: { ...d.db, kysely } } : d, {
      ownDatabase: options.ownDatabase,
      clock: options.clock ?? clock.now,
      ...opts,
      env: { ...proxyEnv, ...(opts.env ?? baseEnv) },
    });
    let closing: Promise<void> | undefined;
    const guarded: TestServer = { ...s, close: () => (closing ??= s.close()) };
    // `logs` is a getter (it flushes the logger first) and must stay one.
    Object.defineProperty(guarded, "logs", { get: () => s.logs });
    servers.push(guarded);
    return guarded;
  }

  beforeAll(async () => {
    baseEnv = typeof options.env === "function" ? options.env() : { ...options.env };
    database = await createTestDatabase(kind);
    if (options.server !== false) server = await startServer();
  });

  afterAll(async () => {
    const errors: unknown[] = [];
    for (const s of servers.reverse()) await s.close().catch((e: unknown) => errors.push(e));
    servers.length = 0;
    await database?.drop().catch((e: unknown) => errors.push(e));
    if (errors.length) throw errors[0];
  });

  const headers = (opts: ClientOptions = {}): Record<string, string> => {
    const h: Record<string, string> = {};
    const ip = opts.ip ?? (options.forwardedFor ? freshIp() : undefined);
    if (ip) h["x-forwarded-for"] = ip;
    if (opts.token) h.authorization = `Bearer ${opts.token}`;
    return { ...h, ...opts.headers };
  };
  const clientOf = <S extends DescService>(s: TestServer, service: S, opts: ClientOptions = {}): Client<S> =>
    createClient(service, s.transport(opts.protocol, headers(opts)));

  return {
    kind,
    get database() {
      return need(database, "database");
    },
    server: lazy("server", () => server),
    get baseUrl() {
      return need(server, "server").baseUrl;
    },
    get logs() {
      return need(server, "server").logs;
    },
    clock,
    freshIp,
    transport: (protocol, opts) => need(server, "server").transport(protocol, headers(opts)),
    client: (service, opts) => clientOf(need(server, "server"), service, opts),
    clientOf,
    async signUp(opts = {}) {
      const n = ++users;
      const email = opts.email ?? `user-${n}-${randomBytes(4).toString("hex")}@example.com`;
      const password = opts.password ?? TEST_PASSWORD;
      const name = opts.name ?? "";
      const res = await clientOf(opts.server ?? need(server, "server"), AuthService, { ip: opts.ip, headers: opts.headers }).signUp({ email, password, name });
      const tokens = res.tokens!;
      if (opts.verified !== false) {
        await need(database, "database").db.kysely.updateTable("users").set({ email_verified_at: new Date() }).where("id", "=", tokens.userId).execute();
      }
      return { email, password, name, userId: tokens.userId, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, tokens };
    },
    startServer,
    useServer(opts) {
      let extra: TestServer | undefined;
      beforeAll(async () => {
        extra = await startServer(opts);
      });
      return lazy("server", () => extra);
    },
  };
}

/**
 * A value a `beforeAll` makes, read through a stand-in the describe body can hold before
 * it exists: every property is the value's (methods bound to it).
 */
function lazy<T extends object>(what: string, get: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const value = get();
      if (value === undefined) throw new Error(`no ${what} yet (use it inside tests and hooks)`);
      const v = Reflect.get(value, key) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(value) : v;
    },
  });
}

/**
 * A real OpenID provider (helpers/oidc-provider.ts) for the enclosing `describe`:
 * started in `beforeAll`, closed in `afterAll`. Call it before `useTessera` so the
 * provider is up when the server starts (pass `env: () => serverEnvFor(provider, ...)`)
 * and closes after the server.
 */
export function useTestProvider(opts: TestProviderOptions | (() => TestProviderOptions) = {}): TestProvider {
  let provider: TestProvider | undefined;
  beforeAll(async () => {
    provider = await startTestProvider(typeof opts === "function" ? opts() : opts);
  });
  afterAll(async () => {
    await provider?.close();
  });
  return lazy("OpenID provider", () => provider);
}

/**
 * A real SMTP server capturing mail (helpers/smtp-sink.ts) for the enclosing `describe`:
 * started in `beforeAll`, closed in `afterAll`. Call it before `useTessera` and pass
 * `env: () => ({ SMTP_URL: sink.url, SMTP_FROM: "...", ... })`.
 */
export function useSmtpSink(): SmtpSink {
  let sink: SmtpSink | undefined;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink?.close();
  });
  return lazy("SMTP sink", () => sink);
}
