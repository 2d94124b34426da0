import { ROOT_CONTEXT, SpanKind as OtelSpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { loggableError } from '../logger';
import type { Span, SpanKind, Tracer } from './tracer';
import { formatTraceparent } from './trace-context';
import type { TraceContext } from './trace-context';

const KINDS: Record<SpanKind, OtelSpanKind> = {
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
  internal: OtelSpanKind.INTERNAL,
};

/** Spans recorded with the OpenTelemetry SDK and exported over OTLP/HTTP (JSON) to `<endpoint>/v1/traces`. */
export function createOtlpTracer(service: string, endpoint: string): Tracer {
  const provider = new BasicTracerProvider({
    resource: new Resource({ 'service.name': `phos-${service}` }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }), { scheduledDelayMillis: 1000 })],
  });
  // Not registered globally: several services may share a process (tests), each with its own provider.
  const tracer = provider.getTracer('phos');
  return {
    startSpan(name, options = {}) {
      const parent = options.parent
        ? trace.setSpanContext(ROOT_CONTEXT, { traceId: options.parent.traceId, spanId: options.parent.spanId, traceFlags: Number.parseInt(options.parent.flags, 16), isRemote: true })
        : ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: KINDS[options.kind ?? 'internal'], attributes: options.attributes }, parent);
      const { traceId, spanId, traceFlags } = span.spanContext();
      const context: TraceContext = { traceId, spanId, flags: traceFlags.toString(16).padStart(2, '0') };
      let ended = false;
      const result: Span = {
        context,
        traceId,
        traceparent: () => formatTraceparent(context),
        setAttribute: (key, value) => void span.setAttribute(key, value),
        updateName: (name) => void span.updateName(name),
        end(error) {
          if (ended) return;
          ended = true;
          if (error) {
            // Spans leave the service: the exception goes as a log line would carry it (no statement, no values).
            const { type, message, code, stack } = loggableError(error);
            span.recordException({ name: type, message, code, stack });
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
      return result;
    },
    // A collector that is down loses the last spans; it must not fail the service's shutdown.
    shutdown: () => provider.shutdown().catch(() => undefined),
  };
}
