/**
 * The dependencies built once in `app.ts` and passed to every factory.
 */
import type { AccountAccess } from "./auth/policy/account-access.js";
import type { CredentialVerifier } from "./auth/request/interceptor.js";
import type { AuditWriter } from "./audit/writer.js";
import type { Config } from "./config/config.js";
import type { Logger } from "./lib/logger.js";
import type { HttpHandler } from "./lib/http.js";
import type { Metrics } from "./metrics/metrics.js";
import type { Db } from "./store/db.js";

/** The current time. Tests pass a controllable clock. */
export type Clock = () => Date;

export interface Deps {
  config: Readonly<Config>;
  logger: Logger;
  db: Db;
  audit: AuditWriter;
  access: AccountAccess;
  clock: Clock;
  /** Prometheus series (NO_METRICS when METRICS_PORT is unset). */
  metrics: Metrics;
}

/** What a feature adds to the server besides its service handlers. */
export interface Feature {
  /** Bearer verifiers, asked in order after earlier features'. */
  verifiers?: CredentialVerifier[];
  /** Plain HTTP handlers (JWKS, discovery...). */
  httpHandlers?: HttpHandler[];
  /** Startup work (bootstrap rows, listeners). */
  start?(): Promise<void>;
  /** Shutdown work. */
  stop?(): Promise<void>;
}
