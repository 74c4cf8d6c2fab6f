/**
 * The operations variables: the metrics endpoint (and, as they land, TLS and traces).
 * Declared here so the server's and the sign-in schemas stay about their own concerns.
 */
import { int, text } from "./parse.js";
import { variable } from "./variable.js";

/** Operations variables, in the reference's order. */
export const OPS_VARIABLES = {
  METRICS_PORT: variable({
    name: "METRICS_PORT",
    section: "operations",
    parser: int(0, 65535),
    default: undefined,
    defaultText: "off",
    description:
      "serve Prometheus metrics at `GET /metrics` on this port, a listener of its own apart from the public one (`0`: any free port); unset, no metrics are collected",
  }),
  METRICS_HOST: variable({
    name: "METRICS_HOST",
    section: "operations",
    parser: text(),
    default: undefined,
    defaultText: "`HOST`",
    description: "address the metrics listener binds (e.g. `0.0.0.0` for a scraper in another pod, while the public port stays behind a proxy)",
  }),
} as const;
