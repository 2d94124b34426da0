import type { TraceContext } from './trace-context';
import { formatTraceparent, newSpanId, newTraceId } from './trace-context';

export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean>;

/** One unit of work of a trace. Log its `traceId`; hand `traceparent()` to the next hop. */
export interface Span {
  /** This span: its trace, its own id (the parent of what it calls), its flags. */
  readonly context: TraceContext;
  readonly traceId: string;
  /** The W3C `traceparent` that makes this span the parent of the next hop. */
  traceparent(): string;
  setAttribute(key: string, value: string | number | boolean): void;
  /** Renames the span once what it does is known (the operation of a request). */
  updateName(name: string): void;
  /** Ends the span; an error marks it failed. Ending twice does nothing. */
  end(error?: unknown): void;
}

export interface StartSpanOptions {
  /** The caller's context (from a `traceparent`); without one, the span starts a new trace. */
  parent?: TraceContext;
  kind?: SpanKind;
  attributes?: SpanAttributes;
}

export interface Tracer {
  startSpan(name: string, options?: StartSpanOptions): Span;
  /** Sends the spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/** Ids only, nothing recorded or sent: what runs when no exporter is configured. */
export function createIdOnlyTracer(): Tracer {
  return {
    startSpan(_name, options = {}) {
      const context: TraceContext = {
        traceId: options.parent?.traceId ?? newTraceId(),
        spanId: newSpanId(),
        flags: options.parent?.flags ?? '01',
      };
      return {
        context,
        traceId: context.traceId,
        traceparent: () => formatTraceparent(context),
        setAttribute: () => undefined,
        updateName: () => undefined,
        end: () => undefined,
      };
    },
    shutdown: async () => undefined,
  };
}

export interface TracerOptions {
  /**
   * The OTLP/HTTP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://collector:4318`); spans go to
   * `<endpoint>/v1/traces`. Unset: no exporter, and the OpenTelemetry SDK is not even loaded.
   */
  otlpEndpoint?: string;
}

/**
 * The tracer of one service instance. With an OTLP endpoint it records spans with the OpenTelemetry SDK
 * (loaded only then) and exports them in batches; a collector that is down loses spans, never requests.
 */
export function createTracer(service: string, options: TracerOptions = { otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT }): Tracer {
  if (!options.otlpEndpoint) return createIdOnlyTracer();
  // Required here, not imported above: without an endpoint the SDK costs nothing, not even its load time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createOtlpTracer } = require('./otlp-tracer') as typeof import('./otlp-tracer');
  return createOtlpTracer(service, options.otlpEndpoint);
}
