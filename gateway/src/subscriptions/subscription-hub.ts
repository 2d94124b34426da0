import { GraphQLError } from 'graphql';
import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { DirectSubscription, parseTraceparent, serializeResult } from '@phos/shared';
import type { Logger } from '@phos/shared';
import { createHash } from 'node:crypto';
import type WebSocket from 'ws';
import { executePlan, subgraphError } from './plan-executor';
import type { ResultObject, SubgraphFetch } from './plan-executor';
import { shapeResult } from './result-shaper';
import type { PreparedOperation, SubscriptionPlan } from './supergraph-snapshot';
import type { UpstreamPool } from './upstream-pool';

/** Runs one fetch of a plan against a subgraph of a snapshot, as the given caller, within the given trace. */
export type CallerFetch = (prepared: PreparedOperation, authorization: string | undefined, traceparent?: string) => SubgraphFetch;

export interface SubscriptionHubOptions {
  pool: UpstreamPool;
  /** Entity fetches made for each event, with the subscriber's authorization. */
  fetch: CallerFetch;
  logger: Logger;
  /** A result as clients receive it (errors formatted as over HTTP). */
  formatResult: (result: ExecutionResult) => FormattedExecutionResult;
}

/** A client's subscription request, validated. */
export interface SubscriptionRequest {
  readonly prepared: PreparedOperation & { readonly plan: SubscriptionPlan };
  /** As the client sent them: forwarded to subgraphs. */
  readonly variables: Readonly<Record<string, unknown>>;
  /** Coerced, with defaults: what `@include`/`@skip` read. */
  readonly coercedVariables: Readonly<Record<string, unknown>>;
  /** The client's `Authorization` (from `connection_init`), forwarded to every subgraph. */
  readonly authorization: string | undefined;
  /** Where the client's `next` messages go: its socket, and the id it gave the subscription. */
  readonly socket: WebSocket;
  readonly id: string;
}

/**
 * Subscriptions with the same operation, variables and authorization share one upstream subscription; each
 * event is completed (entity fetches), shaped and serialized once, then written to each client's socket.
 */
class SharedSubscription {
  readonly clients = new Set<DirectSubscription>();
  private release: (() => void) | undefined;
  /** Events are completed one after another, so clients see them in the order the subgraph sent them. */
  private pending: Promise<void> = Promise.resolve();
  private readonly fetch: SubgraphFetch;

  constructor(
    readonly key: string,
    /** The first client's request, without its socket and id: it outlives that client. */
    private readonly request: Omit<SubscriptionRequest, 'socket' | 'id'>,
    private readonly options: SubscriptionHubOptions,
    private readonly onEnded: (shared: SharedSubscription) => void,
  ) {
    this.fetch = options.fetch(request.prepared, request.authorization);
  }

  start(): void {
    const { prepared, variables, authorization } = this.request;
    const { primary, serviceName } = prepared.plan;
    const upstreamVariables: Record<string, unknown> = {};
    for (const name of primary.variableUsages ?? []) if (variables[name] !== undefined) upstreamVariables[name] = variables[name];
    const url = prepared.snapshot.subgraphUrls.get(serviceName);
    if (url === undefined) throw new Error(`The supergraph names no URL for the ${serviceName} subgraph.`);
    this.release = this.options.pool.subscribe(
      { serviceName, url, authorization },
      { query: primary.operation, operationName: primary.operationName, variables: upstreamVariables },
      {
        next: (result) => this.enqueue(() => this.deliver(result)),
        error: (error) => this.end(error),
        complete: () => this.end(undefined),
      },
    );
  }

  /** Removes a client; the last one out ends the upstream subscription. */
  leave(client: DirectSubscription): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    this.onEnded(this);
    this.release?.();
  }

  private enqueue(task: () => Promise<void>): void {
    this.pending = this.pending.then(task).catch((error: unknown) => {
      this.options.logger.error({ err: error, subgraph: this.request.prepared.plan.serviceName }, 'Completing a subscription event failed');
    });
  }

  private async deliver(upstream: FormattedExecutionResult<Record<string, unknown>, unknown>): Promise<void> {
    if (this.clients.size === 0) return;
    const { prepared, variables, coercedVariables } = this.request;
    const { serviceName, rest } = prepared.plan;
    const data = (upstream.data ?? null) as ResultObject | null;
    const errors = (upstream.errors ?? []).map((error) => subgraphError(error, serviceName, (path) => (path ? [...path] : undefined)));
    // The subgraph names the trace of the work behind the event (a registration): entity fetches join it.
    const sent = (upstream.extensions as { traceparent?: string } | undefined)?.traceparent;
    const traceId = parseTraceparent(sent)?.traceId;
    const traceparent = traceId ? sent : undefined;
    if (data && rest) {
      const fetch = traceparent ? this.options.fetch(prepared, this.request.authorization, traceparent) : this.fetch;
      errors.push(...(await executePlan(rest, data, { supergraphSchema: prepared.snapshot.supergraphSchema, fetch, variables, coercedVariables })));
    }
    const payload = serializeResult(this.options.formatResult(shapeResult(prepared, data, variables, errors)));
    for (const client of this.clients) client.sendSerialized(payload);
    // One line joins the delivery to that trace.
    if (traceId) {
      this.options.logger.info({ traceId, subgraph: serviceName, operation: prepared.operationName, clients: this.clients.size }, 'Delivered a subscription event');
    }
  }

  /** The upstream subscription is over: clients get the events still pending, then `error` or `complete`. */
  private end(error: GraphQLError | undefined): void {
    this.onEnded(this);
    this.enqueue(async () => {
      for (const client of this.clients) {
        if (error) client.fail(error);
        else client.complete();
      }
      this.clients.clear();
      this.release?.();
    });
  }
}

/** The gateway's subscriptions: shares upstream subscriptions between clients that ask for the same thing. */
export class SubscriptionHub {
  private readonly shared = new Map<string, SharedSubscription>();

  constructor(private readonly options: SubscriptionHubOptions) {}

  /**
   * One client subscription: its events go straight to its socket; graphql-ws reads the iterator returned,
   * which ends with the subscription, and `return()`s it on the client's `complete` or disconnect.
   */
  subscribe(request: SubscriptionRequest): AsyncIterableIterator<never> {
    const key = sharingKey(request);
    let shared = this.shared.get(key);
    const isNew = !shared;
    if (!shared) {
      const { socket: _socket, id: _id, ...shareable } = request;
      shared = new SharedSubscription(key, shareable, this.options, (ended) => {
        if (this.shared.get(ended.key) === ended) this.shared.delete(ended.key);
      });
      this.shared.set(key, shared);
    }
    const owner = shared;
    const client: DirectSubscription = new DirectSubscription(request.socket, request.id, () => owner.leave(client));
    owner.clients.add(client);
    if (isNew) {
      try {
        owner.start();
      } catch (error) {
        owner.leave(client);
        throw error;
      }
      this.options.logger.debug({ subgraph: request.prepared.plan.serviceName, operation: request.prepared.operationName }, 'Upstream subscription started');
    }
    return client;
  }

  /** Client subscriptions, and distinct (shared) ones. */
  stats(): { clientSubscriptions: number; sharedSubscriptions: number } {
    let clientSubscriptions = 0;
    for (const shared of this.shared.values()) clientSubscriptions += shared.clients.size;
    return { clientSubscriptions, sharedSubscriptions: this.shared.size };
  }
}

/** Operation (of one supergraph version), variables and authorization: what makes two subscriptions the same. */
function sharingKey(request: SubscriptionRequest): string {
  const hash = createHash('sha256');
  hash.update(request.prepared.key).update('\n').update(stableJson(request.variables)).update('\n').update(request.authorization ?? '');
  return hash.digest('base64url');
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` share. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
