/**
 * The spans Tessera makes, through the OpenTelemetry API. With tracing off (the
 * default) `inSpan` runs its function directly: nothing is allocated on the hot path.
 * Attributes name what happened, never a credential or a query's parameters.
 */
import { context, propagation, type Attributes, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

const TRACER = "tessera";
let enabled = false;

/** Turns span creation on or off (tracing.ts, when a provider is registered or removed). */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

/** Runs `fn` inside a child span of the active one; the span records a thrown error and ends with `fn`. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!enabled) return fn(undefined);
  return trace.getTracer(TRACER).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message?.slice(0, 200) });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Reads `traceparent`/`tracestate` from request headers. */
const headerGetter = {
  keys(h: Headers) {
    const keys: string[] = [];
    h.forEach((_, k) => {
      keys.push(k);
    });
    return keys;
  },
  get: (h: Headers, key: string) => h.get(key) ?? undefined,
};

/**
 * Runs an RPC inside a SERVER span named after its procedure, continuing the caller's
 * trace when the request carries W3C `traceparent`. `finish` sets the outcome.
 */
export async function inRpcSpan<T>(procedure: string, headers: Headers, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!enabled) return fn(undefined);
  const parent = propagation.extract(context.active(), headers, headerGetter);
  const span = trace.getTracer(TRACER).startSpan(procedure, { kind: SpanKind.SERVER, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } finally {
    span.end();
  }
}

/** Marks the active span (an RPC's, when called in its handlers or interceptors) with an attribute. */
export function annotateActiveSpan(key: string, value: string): void {
  if (enabled) trace.getActiveSpan()?.setAttribute(key, value);
}

export { SpanStatusCode };
