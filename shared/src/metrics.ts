import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Request, Response } from 'express';
import type { ConsumerObserver } from './events/event-bus';

/**
 * Prometheus metrics of one service instance. Each instance has its own {@link Registry} (tests run several
 * services in one process, so the global default registry would mix them); process metrics (CPU, memory,
 * event loop, GC) are collected once per process and served by every instance.
 */
export interface ServiceMetrics {
  /** This instance's registry: add service-specific metrics to it (`registers: [metrics.registry]`). */
  readonly registry: Registry;
  /** GraphQL request durations and errors, by operation name and error code. */
  readonly plugin: ApolloServerPlugin<BaseContext>;
  /** Events published (identity's outbox relay). */
  readonly eventsPublished: Counter<'type'>;
  /** Consumer outcomes of one stream and group, for {@link ConsumeOptions.observer}. */
  consumerObserver(stream: string, group: string): ConsumerObserver;
  /** A gauge read when Prometheus scrapes; `read` may be async (consumer lag, outbox backlog). */
  gauge(name: string, help: string, read: () => number | Promise<number>): void;
  /** A gauge with labels, read when Prometheus scrapes. */
  labelledGauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Array<[Record<L, string>, number]> | Promise<Array<[Record<L, string>, number]>>): void;
  /** `GET /metrics`: this instance's metrics and the process's, in the Prometheus text format. */
  handler: (req: Request, res: Response) => void;
}

/** Distinct operation names kept as labels; further names count as `(other)`, so clients cannot flood Prometheus. */
const MAX_OPERATION_NAMES = 200;
const MAX_OPERATION_NAME_LENGTH = 64;

let processRegistry: Registry | undefined;
/** Process metrics, collected into one registry per process: the collectors run once however many services run. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'phos_' });
  }
  return processRegistry;
}

/** Creates the metrics of one service instance; every series carries `service="<service>"`. */
export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const registers = [registry];

  const duration = new Histogram({
    name: 'phos_graphql_request_duration_seconds',
    help: 'GraphQL operations over HTTP, from receipt to response, by operation name and type.',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const errors = new Counter({
    name: 'phos_graphql_errors_total',
    help: 'Errors in GraphQL responses, by operation name and error code (extensions.code).',
    labelNames: ['operation', 'code'] as const,
    registers,
  });
  const eventsPublished = new Counter({ name: 'phos_events_published_total', help: 'Events published to the bus.', labelNames: ['type'] as const, registers });
  const consumed = new Counter({ name: 'phos_events_consumed_total', help: 'Events handled and acknowledged.', labelNames: ['stream', 'group'] as const, registers });
  const retried = new Counter({ name: 'phos_events_retried_total', help: 'Event deliveries that failed and are retried.', labelNames: ['stream', 'group'] as const, registers });
  const deadLettered = new Counter({ name: 'phos_events_dead_lettered_total', help: 'Events moved to the dead-letter stream.', labelNames: ['stream', 'group'] as const, registers });

  const names = new Set<string>();
  const operationLabel = (name: string | null | undefined, valid: boolean): string => {
    // Only names of documents that parsed and validated: anything else is client noise.
    if (!valid) return '(invalid)';
    if (!name) return '(anonymous)';
    const trimmed = name.slice(0, MAX_OPERATION_NAME_LENGTH);
    if (names.has(trimmed)) return trimmed;
    if (names.size >= MAX_OPERATION_NAMES) return '(other)';
    names.add(trimmed);
    return trimmed;
  };

  const plugin: ApolloServerPlugin<BaseContext> = {
    async requestDidStart() {
      const startedAt = process.hrtime.bigint();
      return {
        async didEncounterErrors(requestContext) {
          const operation = operationLabel(requestContext.operationName, requestContext.operation !== undefined);
          for (const error of requestContext.errors) {
            const code = error.extensions?.code;
            errors.inc({ operation, code: typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR' });
          }
        },
        async willSendResponse(requestContext) {
          const operation = operationLabel(requestContext.operationName, requestContext.operation !== undefined);
          const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
          duration.observe({ operation, type: requestContext.operation?.operation ?? 'unknown' }, seconds);
        },
      };
    },
  };

  return {
    registry,
    plugin,
    eventsPublished,
    consumerObserver(stream, group) {
      const labels = { stream, group };
      return {
        onConsumed: () => consumed.inc(labels),
        onRetried: () => retried.inc(labels),
        onDeadLettered: () => deadLettered.inc(labels),
      };
    },
    gauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          // A figure that cannot be read now (Redis or the database down) is NaN, not the last value seen.
          this.set(await Promise.resolve().then(read).catch(() => Number.NaN));
        },
      });
    },
    labelledGauge(name, help, labelNames, read) {
      new Gauge({
        name,
        help,
        labelNames: [...labelNames],
        registers,
        async collect() {
          this.reset();
          const values = await Promise.resolve().then(read).catch(() => []);
          for (const [labels, value] of values) this.set(labels as never, value);
        },
      });
    },
    handler: (_req, res) => {
      // A collector that fails (Redis down while reading the lag) must not hide every other metric.
      Promise.all([registry.metrics(), processMetrics().metrics()]).then(
        ([own, shared]) => res.type(registry.contentType).send(`${own}\n${shared}`),
        (error: unknown) => res.status(500).type('text/plain').send(`cannot collect metrics: ${(error as Error).message}\n`),
      );
    },
  };
}
