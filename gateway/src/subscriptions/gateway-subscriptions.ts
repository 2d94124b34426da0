import type { ApolloServer } from '@apollo/server';
import { createFormatError } from '@phos/shared';
import type { Logger } from '@phos/shared';
import type { Server } from 'node:http';
import type { GatewayContext } from '../context';
import { createSubgraphFetch } from './subgraph-fetch';
import type { DataSourceFor } from './subgraph-fetch';
import { SubscriptionHub } from './subscription-hub';
import { registerSubscriptionStats } from './subscription-stats';
import type { SubscriptionStats } from './subscription-stats';
import { createSupergraphSnapshot } from './supergraph-snapshot';
import type { SupergraphSnapshot } from './supergraph-snapshot';
import { UpstreamPool } from './upstream-pool';
import { createGatewayWebSocketServer, formatResult } from './websocket-server';
import type { GatewayWebSocketServer, GatewayWebSocketServerOptions } from './websocket-server';

export interface GatewaySubscriptionsOptions {
  /** The gateway's data source for a subgraph at a URL; entity fetches of events go through it. */
  dataSourceFor: DataSourceFor;
  /** Subgraph URLs by name, over those written in the supergraph. */
  subgraphUrls: Readonly<Record<string, string>>;
  /** How long to keep reconnecting to a subgraph whose socket dropped before ending its subscriptions. */
  upstreamTimeoutMs: number;
  /** The paths graphql-ws is served on. Default `/graphql` and `/`. */
  paths?: readonly string[];
  /** How long a client has to send `connection_init` before its socket closes with 4408. Default 3000. */
  connectionInitWaitTimeoutMs?: number;
  /** Verifies a connection's `authorization` (see {@link GatewayWebSocketServerOptions.authenticate}). */
  authenticate: GatewayWebSocketServerOptions['authenticate'];
  /** Origins allowed to open a WebSocket; empty allows any. */
  allowedOrigins?: readonly string[];
  /** The client's address of a WebSocket's upgrade request (see {@link GatewayWebSocketServerOptions.clientAddress}). */
  clientAddress: GatewayWebSocketServerOptions['clientAddress'];
  isProduction: boolean;
  logger: Logger;
}

export interface GatewaySubscriptions {
  /** Takes a new supergraph: new operations use it, running subscriptions keep the one they started with. */
  updateSupergraph(supergraphSdl: string): void;
  /** `attach` of `startGraphQLService`: serves graphql-ws on the HTTP server; returns the stop function. */
  attach(server: Server, apollo: () => ApolloServer<GatewayContext>): () => Promise<void>;
  stats(): SubscriptionStats;
}

/** Everything the gateway needs to serve subscriptions (and other operations) over graphql-ws. */
export function createGatewaySubscriptions(options: GatewaySubscriptionsOptions): GatewaySubscriptions {
  const { logger } = options;
  let snapshot: SupergraphSnapshot | undefined;
  let wsServer: GatewayWebSocketServer | undefined;
  const pool = new UpstreamPool({ reconnectTimeoutMs: options.upstreamTimeoutMs, logger });
  const formatError = createFormatError(logger, options.isProduction);
  const hub = new SubscriptionHub({ pool, fetch: createSubgraphFetch(options.dataSourceFor), logger, formatResult: (result) => formatResult(result, formatError) });

  const stats = (): SubscriptionStats => ({
    clientSockets: wsServer?.clientSockets() ?? 0,
    clientSubscriptions: hub.stats().clientSubscriptions,
    upstreamSubscriptions: pool.stats().subscriptions,
    upstreamSockets: pool.stats().sockets,
  });

  return {
    updateSupergraph(supergraphSdl) {
      try {
        snapshot = createSupergraphSnapshot(supergraphSdl, { subgraphUrls: options.subgraphUrls });
        logger.info({ supergraphVersion: snapshot.version }, 'Subscriptions use the new supergraph');
      } catch (error) {
        // The gateway has accepted this supergraph; keep serving the previous one rather than none.
        logger.error({ err: error }, 'Cannot plan subscriptions over the new supergraph; keeping the previous one');
      }
    },
    attach(server, apollo) {
      wsServer = createGatewayWebSocketServer({
        server,
        paths: options.paths ?? ['/graphql', '/'],
        snapshot: () => snapshot,
        hub,
        executeOperation: async (operation, contextValue) => {
          const response = await apollo().executeOperation(operation, { contextValue });
          if (response.body.kind === 'single') return response.body.singleResult;
          return { errors: [{ message: 'Incremental delivery (@defer, @stream) is not available over WebSockets.' }] };
        },
        formatError,
        connectionInitWaitTimeoutMs: options.connectionInitWaitTimeoutMs,
        authenticate: options.authenticate,
        allowedOrigins: options.allowedOrigins,
        clientAddress: options.clientAddress,
        isProduction: options.isProduction,
        logger,
      });
      const unregister = registerSubscriptionStats(stats);
      const closing = wsServer;
      return async () => {
        // Clients first: their subscriptions release upstream ones, then the pool closes what is left.
        await closing.close();
        await pool.dispose();
        unregister();
      };
    },
    stats,
  };
}
