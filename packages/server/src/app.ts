/**
 * Builds every dependency once from a Config and wires them into a server. `main.ts`
 * runs it; tests build the same app on port 0 against their own database.
 */
import type { Config } from "./config/config.js";
import { createAbuseInterceptor } from "./abuse/interceptor.js";
import { chargeWith, createMemoryKeyLimiter } from "./abuse/key-limits.js";
import { createRedisKeyLimiter } from "./abuse/key-limits-redis.js";
import { createMemoryCounterStore } from "./abuse/limiter.js";
import { createRedisClient } from "./abuse/redis-client.js";
import { createRedisCounterStore } from "./abuse/redis-counters.js";
import { createPerUserLimiter } from "./abuse/per-user.js";
import { createRefusalAudit } from "./abuse/refusal-audit.js";
import { createAccountAccess } from "./auth/policy/account-access.js";
import { createAdminModeGate } from "./auth/admin/admin-mode.js";
import { createApiKeyAuth } from "./auth/api-keys/verifier.js";
import { createOldValueSweep } from "./auth/api-keys/old-values.js";
import { createClientCertAuth } from "./auth/client-certs/auth.js";
import { createDeviceLogins } from "./auth/device/device-logins.js";
import { createRevocationLog } from "./auth/revocation/log.js";
import { createAuthInterceptor } from "./auth/request/interceptor.js";
import { createUserAuth } from "./auth/user-auth.js";
import { createAuditWriter } from "./audit/writer.js";
import type { Clock, Deps, Feature } from "./deps.js";
import { createConsoleHandler } from "./console/handler.js";
import { createAuthConfigRoute } from "./server/auth-config-route.js";
import { createCorsHandler } from "./server/cors.js";
import { createHealthHandler } from "./server/health.js";
import { runAdminOp } from "./server/local-admin/ops.js";
import { startAdminSocket, type AdminSocket } from "./server/local-admin/server.js";
import { createLogger, type Logger } from "./lib/logger.js";
import { startMetricsListener, type MetricsListener } from "./metrics/listener.js";
import { createMetrics, NO_METRICS } from "./metrics/metrics.js";
import { queryTimer } from "./metrics/query-timer.js";
import type { SpanExporter } from "@opentelemetry/sdk-trace-node";
import { querySpans } from "./tracing/query-spans.js";
import { startTracing } from "./tracing/tracing.js";
import { createObserveInterceptor } from "./server/observe.js";
import { createRoutes } from "./routes.js";
import { createServer, type TesseraServer } from "./server/server.js";
import { createAdminService } from "./services/admin/index.js";
import { createApiKeyService } from "./services/api-key/index.js";
import { createAuthService } from "./services/auth/index.js";
import { createIdentityService } from "./services/identity/index.js";
import { createAccountRecoveryService } from "./services/account-recovery/index.js";
import { createRecoveryMail } from "./auth/email-links/recovery-mail.js";
import { createEmailTokenSweep } from "./auth/email-links/token-sweep.js";
import { createMailer, type Mailer } from "./mail/mailer.js";
import { createUserAccountService } from "./services/user-account/index.js";
import { createRevocationService } from "./services/revocation/index.js";
import { createDeviceLoginService } from "./services/device-login/index.js";
import { createMfaService } from "./services/mfa/index.js";
import { createClientCertService } from "./services/client-cert/index.js";
import { createLocalOnlyGuard } from "./server/local-only.js";
import { ensureAnonymous, retireAnonymous } from "./store/bootstrap.js";
import { migrateToLatest, openDatabase, type Db } from "./store/db.js";
import { isApiKeyMadeByInstanceAdmin, isInstanceAdmin } from "./store/users.js";

export interface App {
  config: Readonly<Config>;
  deps: Deps;
  server: TesseraServer;
  /** Outgoing mail (tests wait for its queue with `mailer.idle()`). */
  mailer: Mailer;
  /** Listens on config.host:config.port (or the given port); resolves with the bound port. */
  listen(port?: number): Promise<number>;
  /** The metrics listener's address once listening (METRICS_PORT set). */
  metricsAddress(): { host: string; port: number } | undefined;
  /** Graceful stop: drain the server, then the mail queue (MAIL_DRAIN_TIMEOUT_MS), stop features, flush the audit trail, close the database. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** An already open database (tests share one); otherwise opened from config. */
  db?: Db;
  /** The clock; tests pass a controllable one. */
  clock?: Clock;
  /** What this process runs, recorded in an embedded database's lock (e.g. `tessera serve`). */
  command?: string;
  /** Where spans go instead of the configured exporter (tests: an in-memory one). */
  spanExporter?: SpanExporter;
}

/** Builds the whole application from a Config and runs every feature's startup. */
export async function createApp(config: Readonly<Config>, opts: AppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger({ json: config.logsJson, level: config.logLevel });
  const ownsDb = !opts.db;
  const db =
    opts.db ??
    (await openDatabase(config.database, (e) => logger.warn({ err: { message: e.message } }, "database connection error"), { command: opts.command }));
  const metrics = config.metrics ? createMetrics({ version: config.version }) : NO_METRICS;
  if (config.metrics && db.poolStats) metrics.watchPool(db.poolStats);
  const tracing = startTracing(config.tracing, config.version, opts.spanExporter);
  // Every query of this app is timed and traced when those are on (the database may be shared with other apps: tests).
  let kysely = config.metrics ? db.kysely.withPlugin(queryTimer(metrics)) : db.kysely;
  if (tracing) kysely = kysely.withPlugin(querySpans(db.kind));
  const deps: Deps = {
    config,
    logger,
    db: kysely === db.kysely ? db : { ...db, kysely },
    audit: createAuditWriter(kysely, logger),
    access: createAccountAccess(kysely),
    clock: opts.clock ?? (() => new Date()),
    metrics,
  };

  // Admin mode: which users' tokens and keys this instance accepts (set when userAuth starts).
  const gate = createAdminModeGate(config.authMode);
  // The revocation log keeps every cache of revocable credentials in step, on every instance.
  const revocations = createRevocationLog(deps);
  const trusted = () => revocations.cachesTrusted();
  const apiKeys = createApiKeyAuth(deps, { refuseCreator: (createdById) => gate.refuseApiKey(createdById), trusted });
  const userAuth = createUserAuth(deps, { gate, revocations });
  revocations.addApplier(apiKeys.applier);
  const clientCerts = createClientCertAuth(deps, { refuseCreator: (createdById) => gate.refuseApiKey(createdById), trusted });
  revocations.addApplier(clientCerts.applier);
  revocations.addApplier(userAuth.applier);
  const deviceLogins = createDeviceLogins(deps, userAuth.sessions);
  const oldKeyValues = createOldValueSweep(deps, revocations);
  const features: Feature[] = [revocations, apiKeys, userAuth, deviceLogins, createEmailTokenSweep(deps), oldKeyValues];
  const started: Feature[] = [];
  let adminSocket: AdminSocket | undefined;
  try {
    if (config.dbAutoMigrate) await migrateToLatest(db.kysely);
    if (config.authMode === "none") await ensureAnonymous(db.kysely);
    else if (await retireAnonymous(db.kysely, deps.clock())) logger.warn("the anonymous user of AUTH_MODE=none is no longer instance admin and is disabled");
    for (const f of features) {
      await f.start?.();
      started.push(f);
    }
    // This process holds the embedded database: commands of other processes come through it.
    if (ownsDb && db.dataDir) {
      adminSocket = await startAdminSocket({
        dataDir: db.dataDir,
        logger,
        async handle(op) {
          const result = await runAdminOp(db.kysely, op, { now: deps.clock(), accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds });
          if (op !== "keys.rotate") return result;
          const signsNow = await userAuth.reloadSigningKeys();
          logger.info({ kid: (result as { kid: string }).kid }, "signing keys rotated by `tessera keys rotate`");
          return { ...result, signsNow };
        },
      });
    }
  } catch (e) {
    for (const f of started.reverse()) await f.stop?.().catch(() => {});
    if (ownsDb) await db.close();
    throw e;
  }

  const now = () => deps.clock().getTime();
  // One Redis connection for the abuse counters and the per-key limits of API keys.
  const redis = config.redisUrl ? createRedisClient(config.redisUrl) : undefined;
  const counters = redis ? createRedisCounterStore({ redis, prefix: `${config.redisKeyPrefix}rl:`, logger, now }) : createMemoryCounterStore({ now });
  // Per-key limits of API keys: shared by every instance through Redis when configured.
  const keyLimiter = redis ? createRedisKeyLimiter({ redis, prefix: config.redisKeyPrefix, logger, now }) : createMemoryKeyLimiter(now);
  const refusals = createRefusalAudit({ audit: deps.audit, now });
  const revocationService = createRevocationService(deps, revocations);
  const mailer = createMailer({ config: config.mail, logger });
  const mail = createRecoveryMail(deps, mailer);
  const perUser = createPerUserLimiter(counters, refusals);
  const routes = createRoutes({
    auth: createAuthService(deps, { userAuth, revocations, mail, forgetApiKeys: (t) => apiKeys.forget(t) }),
    accountRecovery: createAccountRecoveryService(deps, { mail, revocations }),
    apiKey: createApiKeyService(deps, revocations, keyLimiter),
    userAccount: createUserAccountService(deps),
    identity: createIdentityService(deps, userAuth.oidc),
    revocation: revocationService.impl,
    deviceLogin: createDeviceLoginService(deps, { logins: deviceLogins, perUser }),
    mfa: createMfaService(deps, { mfa: userAuth.mfa, mail, perUser }),
    clientCert: createClientCertService(deps, revocations, () => clientCerts.forgetAll()),
    admin: createAdminService(deps, revocations, keyLimiter),
  });
  const server = createServer({
    config,
    logger,
    routes,
    interceptors: [
      createObserveInterceptor(logger, config.maxTimeoutMs, metrics, config.logRpcSample),
      createAbuseInterceptor({ store: counters, refusals, metrics }),
      createAuthInterceptor({
        mode: config.authMode,
        verifiers: features.flatMap((f) => f.verifiers ?? []),
        isInstanceAdmin: (userId) => isInstanceAdmin(kysely, userId),
        keyMadeByInstanceAdmin: (apiKeyId) => isApiKeyMadeByInstanceAdmin(kysely, apiKeyId),
        chargeApiKey: chargeWith(keyLimiter),
        secondFactor: { forAdmins: config.mfa.requireForAdmins, forApiKeyCreation: config.mfa.requireForApiKeyCreation },
        // Mutual TLS: requests without a bearer, by their certificate's account mapping.
        ...(config.tls?.clientCa ? { clientCerts } : {}),
        metrics,
      }),
    ],
    httpHandlers: [
      // AUTH_MODE=none: only requests addressed to this machine, before anything else answers (DNS rebinding).
      ...(config.authMode === "none" ? [createLocalOnlyGuard({ config, logger })] : []),
      createCorsHandler(config.corsAllowedOrigins),
      createHealthHandler(
        config,
        db,
        () => counters.status(),
        () => revocations.status(),
      ),
      createAuthConfigRoute(config),
      createConsoleHandler(logger),
      ...features.flatMap((f) => f.httpHandlers ?? []),
    ],
  });

  let metricsListener: MetricsListener | undefined;
  return {
    config,
    deps,
    server,
    mailer,
    async listen(port = config.port) {
      if (config.metrics?.port !== undefined && metrics.registry && !metricsListener) {
        metricsListener = await startMetricsListener(metrics.registry, config.metrics.host, config.metrics.port, (e) =>
          logger.warn({ err: { message: e.message } }, "metrics not collected"),
        );
      }
      return server.listen(port, config.host);
    },
    metricsAddress() {
      const a = metricsListener?.address();
      return a && { host: a.address, port: a.port };
    },
    async close() {
      await metricsListener?.close();
      await adminSocket?.close();
      // Open revocation streams end now: the drain must not wait for them.
      revocationService.closeStreams();
      await server.close();
      // After the requests (they may still enqueue mail), before the database (jobs store tokens).
      await mailer.close();
      for (const f of [...features].reverse()) await f.stop?.().catch((e) => logger.warn({ err: e }, "feature stop failed"));
      await counters.close();
      await keyLimiter.close();
      redis?.disconnect();
      refusals.close();
      await deps.audit.flush();
      if (ownsDb) await db.close();
      await tracing?.shutdown();
    },
  };
}
