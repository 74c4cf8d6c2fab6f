/**
 * The operations variables: the metrics endpoint (and, as they land, TLS and traces).
 * Declared here so the server's and the sign-in schemas stay about their own concerns.
 */
import { httpUrl, int, oneOf, ratio, text, verbatim } from "./parse.js";
import { variable } from "./variable.js";

const pem = (name: string, what: string, secret = false) =>
  variable({
    name,
    section: "tls",
    parser: secret ? verbatim() : text(),
    default: undefined,
    ...(secret ? { secret: true } : {}),
    description: `${what}, PEM contents (or \`${name}_PATH\`; not both)`,
  });
const pemPath = (name: string, what: string) =>
  variable({
    name: `${name}_PATH`,
    section: "tls",
    parser: text(),
    default: undefined,
    description: `path of ${what} (PEM); re-read when the file changes, without a restart`,
  });

/** Operations variables, in the reference's order. */
export const OPS_VARIABLES = {
  TLS_CERT: pem("TLS_CERT", "the server's certificate chain: setting it (with `TLS_KEY`) serves TLS on `PORT` (HTTP/2 and HTTP/1.1 by ALPN)"),
  TLS_CERT_PATH: pemPath("TLS_CERT", "the server's certificate chain"),
  TLS_KEY: pem("TLS_KEY", "the server's private key", true),
  TLS_KEY_PATH: pemPath("TLS_KEY", "the server's private key"),
  TLS_CLIENT_CA: pem("TLS_CLIENT_CA", "the CA bundle client certificates must chain to: setting it turns on mutual TLS"),
  TLS_CLIENT_CA_PATH: pemPath("TLS_CLIENT_CA", "the client CA bundle"),
  TLS_CLIENT_AUTH: variable({
    name: "TLS_CLIENT_AUTH",
    section: "tls",
    parser: oneOf(["required", "optional"]),
    default: "required",
    description:
      "with a client CA: `required` refuses connections without a valid client certificate; `optional` accepts them without one. A certificate that is presented and fails verification (other CA, expired) is refused either way",
  }),
  TLS_RELOAD_INTERVAL_MS: variable({
    name: "TLS_RELOAD_INTERVAL_MS",
    section: "tls",
    parser: int(100, 3_600_000),
    default: 5000,
    description: "how often the `*_PATH` files are checked for changes (cert-manager, certbot); new connections use the new files, open ones keep theirs",
  }),
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
  OTEL_TRACES_EXPORTER: variable({
    name: "OTEL_TRACES_EXPORTER",
    section: "operations",
    parser: oneOf(["none", "otlp", "console"]),
    default: "none",
    description:
      "`otlp` sends OpenTelemetry traces over OTLP/HTTP (a span per RPC, with database, provider and argon2 child spans); `console` prints them; `none` makes none",
  }),
  OTEL_SERVICE_NAME: variable({
    name: "OTEL_SERVICE_NAME",
    section: "operations",
    parser: text(),
    default: "tessera",
    description: "`service.name` of the spans",
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: variable({
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    section: "operations",
    parser: httpUrl(),
    default: undefined,
    defaultText: "`http://localhost:4318`",
    description: "the collector's base URL; traces go to `<it>/v1/traces`",
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: variable({
    name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    section: "operations",
    parser: httpUrl(),
    default: undefined,
    description: "the full traces URL, overriding `OTEL_EXPORTER_OTLP_ENDPOINT`",
  }),
  OTEL_EXPORTER_OTLP_HEADERS: variable({
    name: "OTEL_EXPORTER_OTLP_HEADERS",
    section: "operations",
    parser: verbatim(),
    default: undefined,
    secret: true,
    description: "headers for the collector, `key=value,key2=value2` (values URL-encoded), e.g. an API key",
  }),
  OTEL_TRACES_SAMPLER_ARG: variable({
    name: "OTEL_TRACES_SAMPLER_ARG",
    section: "operations",
    parser: ratio(),
    default: 1,
    description: "fraction of new traces sampled (`parentbased_traceidratio`: a caller's `traceparent` decision is followed)",
  }),
} as const;
