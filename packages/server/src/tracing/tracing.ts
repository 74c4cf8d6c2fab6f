/**
 * OpenTelemetry tracing, off by default: OTEL_TRACES_EXPORTER=otlp sends spans over
 * OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT +
 * `/v1/traces`), batched off the request path. Tests pass their own exporter.
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { setTracingEnabled } from "./spans.js";

/** The tracing settings (config/). */
export interface TracingConfig {
  exporter: "none" | "otlp" | "console";
  serviceName: string;
  /** The OTLP traces URL (…/v1/traces). */
  endpoint: string | undefined;
  /** Extra headers for the collector (e.g. an API key). */
  headers: Record<string, string>;
  /** Fraction of new traces sampled (a caller's sampled flag is followed). */
  sampleRatio: number;
}

/** A started tracer provider, to stop at shutdown. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Registers a tracer provider (process-wide, as OpenTelemetry's API is) when the
 * config or `exporter` asks for one; undefined when tracing stays off.
 */
export function startTracing(config: TracingConfig, version: string, exporter?: SpanExporter): Tracing | undefined {
  if (!exporter && config.exporter === "none") return undefined;
  const spanExporter =
    exporter ?? (config.exporter === "console" ? new ConsoleSpanExporter() : new OTLPTraceExporter({ url: config.endpoint, headers: config.headers }));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": config.serviceName, "service.version": version }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    // A test's exporter sees each span as it ends; a real one gets batches.
    spanProcessors: [exporter ? new SimpleSpanProcessor(spanExporter) : new BatchSpanProcessor(spanExporter)],
  });
  provider.register();
  setTracingEnabled(true);
  return {
    async shutdown() {
      setTracingEnabled(false);
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
