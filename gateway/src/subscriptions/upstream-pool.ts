import { isClientError } from '@phos/shared';
import { GraphQLError } from 'graphql';
import type { GraphQLFormattedError } from 'graphql';
import { createClient } from 'graphql-ws';
import type { Client, FormattedExecutionResult } from 'graphql-ws';
import type { Logger } from '@phos/shared';
import WebSocket from 'ws';
import type { SubgraphRequest } from './plan-executor';

export interface UpstreamPoolOptions {
  /**
   * How long to keep reconnecting, with backoff, to a subgraph whose WebSocket dropped (or cannot be
   * reached). Subscriptions resume on the new socket if it comes back in time; otherwise each ends with an
   * error naming the subgraph.
   */
  reconnectTimeoutMs: number;
  /** Backoff between reconnection attempts: doubles from `minRetryDelayMs` up to `maxRetryDelayMs`. Defaults 100 and 2000. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a subgraph may take to acknowledge `connection_init` before the attempt counts as failed. Default 10000. */
  connectionAckTimeoutMs?: number;
  /** How often a ping goes upstream to keep idle sockets open through proxies. Default 12000. */
  keepAliveMs?: number;
  logger: Logger;
}

/** Where an upstream subscription goes. */
export interface UpstreamTarget {
  readonly serviceName: string;
  /** The subgraph's HTTP URL; its graphql-ws endpoint is the same URL with ws(s)://. */
  readonly url: string;
  /** Sent as the `connection_init` payload `{ authorization }`; sockets are pooled per value. */
  readonly authorization: string | undefined;
}

export interface UpstreamSink {
  next(result: FormattedExecutionResult<Record<string, unknown>, unknown>): void;
  /** The subscription cannot go on: the subgraph refused it, or could not be reached in time. */
  error(error: GraphQLError): void;
  /** The subgraph ended the subscription. */
  complete(): void;
}

/** One pooled WebSocket: all subscriptions to one subgraph with one authorization. */
interface PooledConnection {
  readonly key: string;
  readonly target: UpstreamTarget;
  readonly client: Client;
  subscriptions: number;
  open: boolean;
  /** When the socket dropped (or the first attempt failed); undefined while connected. */
  lostAt: number | undefined;
}

/**
 * Upstream graphql-ws subscriptions to subgraphs over pooled WebSockets: at most one socket per subgraph and
 * authorization, carrying all of its subscriptions, opened on the first and closed with the last. Dropped
 * sockets are reconnected with backoff and their subscriptions resubscribed, transparently to callers.
 */
export class UpstreamPool {
  private readonly connections = new Map<string, PooledConnection>();
  private subscriptionCount = 0;
  /** Sockets open at the transport level, including those of connections already closing. */
  private openSockets = 0;
  private disposed = false;

  constructor(private readonly options: UpstreamPoolOptions) {}

  /** Starts a subscription; the returned function ends it (idempotent), and closes the socket with the last one. */
  subscribe(target: UpstreamTarget, request: SubgraphRequest, sink: UpstreamSink): () => void {
    if (this.disposed) throw new Error('The upstream pool is closed: the gateway is stopping.');
    const connection = this.connectionFor(target);
    connection.subscriptions += 1;
    this.subscriptionCount += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      stop();
      this.subscriptionCount -= 1;
      connection.subscriptions -= 1;
      if (connection.subscriptions === 0) this.close(connection);
    };
    const stop = connection.client.subscribe<Record<string, unknown>>(
      { query: request.query, operationName: request.operationName, variables: request.variables },
      {
        next: (result) => sink.next(result),
        error: (error) => sink.error(this.describeFailure(connection, error)),
        complete: () => sink.complete(),
      },
    );
    return release;
  }

  /** Open sockets and running subscriptions. */
  stats(): { sockets: number; subscriptions: number } {
    return { sockets: this.openSockets, subscriptions: this.subscriptionCount };
  }

  /** Closes every socket; their subscriptions end without notice (the caller ends its clients first). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.connections.values()].map((connection) => this.close(connection)));
  }

  private connectionFor(target: UpstreamTarget): PooledConnection {
    const key = JSON.stringify([target.serviceName, target.url, target.authorization ?? null]);
    const existing = this.connections.get(key);
    if (existing) return existing;

    const { logger, reconnectTimeoutMs } = this.options;
    const minDelayMs = this.options.minRetryDelayMs ?? 100;
    const maxDelayMs = this.options.maxRetryDelayMs ?? 2000;
    const log = { subgraph: target.serviceName };
    let socketOpen = false;
    const remainingMs = () => (connection.lostAt === undefined ? reconnectTimeoutMs : remainingSince(connection.lostAt, reconnectTimeoutMs));

    const client = createClient({
      url: target.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: target.authorization ? { authorization: target.authorization } : {},
      lazy: true,
      keepAlive: this.options.keepAliveMs ?? 12_000,
      connectionAckWaitTimeout: this.options.connectionAckTimeoutMs ?? 10_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => {
        connection.lostAt ??= Date.now();
        return remainingMs() > 0;
      },
      retryWait: async (retries) => {
        const backoffMs = Math.min(minDelayMs * 2 ** retries, maxDelayMs);
        // Jitter spreads the reconnections of many gateways; never wait past the deadline.
        const delayMs = Math.min(backoffMs / 2 + Math.random() * (backoffMs / 2), Math.max(remainingMs(), 0));
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      },
      on: {
        opened: () => {
          if (!socketOpen) this.openSockets += 1;
          socketOpen = true;
        },
        connected: () => {
          if (connection.lostAt !== undefined) logger.info({ ...log, downMs: Date.now() - connection.lostAt }, 'Subgraph subscription socket reconnected');
          else logger.debug(log, 'Subgraph subscription socket connected');
          connection.open = true;
          connection.lostAt = undefined;
        },
        closed: (event) => {
          if (socketOpen) this.openSockets -= 1;
          socketOpen = false;
          const wasOpen = connection.open;
          connection.open = false;
          if (connection.subscriptions === 0 || this.disposed) return;
          connection.lostAt ??= Date.now();
          if (wasOpen) {
            const code = (event as { code?: number } | undefined)?.code;
            logger.warn({ ...log, code, reconnectTimeoutMs }, 'Subgraph subscription socket closed; reconnecting');
          }
        },
      },
    });
    // The client's callbacks above read and update this object once the client runs, never before.
    const connection: PooledConnection = { key, target, client, subscriptions: 0, open: false, lostAt: undefined };
    this.connections.set(key, connection);
    return connection;
  }

  private async close(connection: PooledConnection): Promise<void> {
    if (this.connections.get(connection.key) !== connection) return;
    this.connections.delete(connection.key);
    connection.open = false;
    // Rejects when the socket never connected: nothing is left open then.
    await Promise.resolve(connection.client.dispose()).catch(() => undefined);
  }

  /** What graphql-ws reports when a subscription cannot go on, as an error for clients naming the subgraph. */
  private describeFailure(connection: PooledConnection, error: unknown): GraphQLError {
    const serviceName = connection.target.serviceName;
    const extensions = { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName };
    if (Array.isArray(error)) {
      // The subgraph answered `error`: it refused the operation.
      const errors = error as GraphQLFormattedError[];
      this.options.logger.warn({ subgraph: serviceName, errors: errors.map((e) => e.message) }, 'Subgraph refused a subscription');
      // A refusal the client caused (an expired token, a role) keeps its contract code, as in a query.
      const clientCode = isClientError(errors[0]) ? errors[0].extensions?.code : undefined;
      return new GraphQLError(`The ${serviceName} subgraph refused the subscription: ${errors.map((e) => e.message).join('; ')}`, {
        extensions: { ...errors[0]?.extensions, ...extensions, ...(clientCode ? { code: clientCode } : {}) },
      });
    }
    const code = (error as { code?: unknown } | null)?.code;
    if (connection.lostAt !== undefined && remainingSince(connection.lostAt, this.options.reconnectTimeoutMs) <= 0) {
      this.options.logger.error({ subgraph: serviceName, reconnectTimeoutMs: this.options.reconnectTimeoutMs }, 'Subgraph unreachable; ending its subscriptions');
      return new GraphQLError(
        `The ${serviceName} subgraph could not be reached for ${this.options.reconnectTimeoutMs} ms, so this subscription has ended. Subscribe again later.`,
        { extensions },
      );
    }
    this.options.logger.error({ subgraph: serviceName, code }, 'Subgraph subscription socket failed');
    return new GraphQLError(`The connection to the ${serviceName} subgraph failed${typeof code === 'number' ? ` (close code ${code})` : ''}, so this subscription has ended. Subscribe again.`, {
      extensions,
    });
  }
}

function remainingSince(lostAt: number, timeoutMs: number): number {
  return timeoutMs - (Date.now() - lostAt);
}
