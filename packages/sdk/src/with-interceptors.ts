/**
 * Runs interceptors in front of any Transport, so the SDK's credentials work with
 * transports it did not create (an injected transport, `createRouterTransport`).
 */
import { createContextValues, type Interceptor, type Transport } from "@connectrpc/connect";
import { runStreamingCall, runUnaryCall } from "@connectrpc/connect/protocol";

/** A Transport that runs `interceptors` (outermost first) before `inner`. */
export function withInterceptors(inner: Transport, interceptors: Interceptor[]): Transport {
  if (interceptors.length === 0) return inner;
  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      return runUnaryCall({
        interceptors,
        signal,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: "",
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: (req) => inner.unary(req.method, req.signal, timeoutMs, req.header, req.message, req.contextValues),
      });
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      return runStreamingCall({
        interceptors,
        signal,
        req: {
          stream: true,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: "",
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: (req) => inner.stream(req.method, req.signal, timeoutMs, req.header, req.message, req.contextValues),
      });
    },
  };
}
