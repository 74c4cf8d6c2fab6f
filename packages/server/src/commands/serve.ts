/**
 * `tessera serve`: read the config, build the app once, listen, and shut down
 * gracefully on SIGTERM/SIGINT: in-flight requests within SHUTDOWN_TIMEOUT_SECONDS, then
 * queued mail within MAIL_DRAIN_TIMEOUT_MS. SIGUSR2 switches the log level to
 * LOG_LEVEL_SIGUSR2 and back.
 */
import { installCheapAbortReason } from "../server/abort-reason.js";
import { createApp } from "../app.js";
import { ConfigError, loadConfig } from "../config/config.js";
import { explainDatabaseError } from "./database-errors.js";
import { isLoopbackHost } from "../server/local-only.js";
import { DataDirLockedError } from "../store/data-dir-lock.js";
import { logLevelSwitch } from "../lib/log-level-switch.js";

/** Loads the config or exits with code 2 and one line naming the bad variable. */
export function loadConfigOrExit(): ReturnType<typeof loadConfig> {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tessera: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

/** Whether `host` only accepts connections from this machine (re-exported from local-only.ts). */
export { isLoopbackHost };

/** Runs the server until a signal stops it. */
export async function serve(): Promise<void> {
  const config = loadConfigOrExit();
  installCheapAbortReason();
  const app = await createApp(config, { command: "tessera serve" }).catch((e: unknown) => {
    if (e instanceof DataDirLockedError && !e.self) {
      throw new Error(
        `${e.message}: stop it first, or give this server its own TESSERA_DATA_DIR (several servers on one database need PostgreSQL: DATABASE_URL)`,
      );
    }
    // A database that cannot be used: one line naming the setting, where, and the likely fix.
    const line = explainDatabaseError(e, config.database);
    if (line === undefined) throw e;
    process.stderr.write(`tessera: ${line}\n`);
    process.exit(1);
  });
  const port = await app.listen();
  app.deps.logger.info(
    { host: config.host, port, auth_mode: config.authMode, database: config.database.kind, version: config.version },
    `tessera listening on ${config.tls ? "https" : "http"}://${config.host}:${port}`,
  );
  if (config.authMode === "none" && !isLoopbackHost(config.host)) {
    // Not refused (a container or a private network may be exactly what is wanted), but said loudly.
    app.deps.logger.warn(
      { host: config.host, auth_mode: config.authMode },
      "AUTH_MODE=none on an address other machines can reach: every caller is the admin of the default account, with no credentials. Set AUTH_MODE=admin or full, or HOST=127.0.0.1",
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.deps.logger.info({ signal, in_flight: app.server.inFlight() }, "shutting down");
    const hardStop = setTimeout(
      () => {
        app.deps.logger.error("shutdown timed out; exiting");
        process.exit(1);
      },
      config.shutdownTimeoutMs + config.mail.drainTimeoutMs + 2000,
    );
    hardStop.unref();
    app.close().then(
      () => {
        app.deps.logger.info("stopped");
        process.exit(0);
      },
      (e) => {
        app.deps.logger.error({ err: e }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  // A background task (a cache refresh, a sweep) failing while the database is away
  // must not take the server down with it: log it, keep serving.
  process.on("unhandledRejection", (reason) => app.deps.logger.error({ err: reason }, "unhandled rejection in a background task"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  // LOG_LEVEL_SIGUSR2: more (or fewer) lines from a running server, and back, without a restart.
  const switchLevel = logLevelSwitch(app.deps.logger, config.logLevel, config.logLevelSigusr2);
  process.on("SIGUSR2", () => switchLevel());
}
