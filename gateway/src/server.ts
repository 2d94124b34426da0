import { ApolloGateway } from '@apollo/gateway';
import { callerFromAuthorization, createLogger, proxyTrust, createServiceMetrics, createTokenVerifier, createTracer, apolloLogger } from '@phos/shared';
import type { Config, Logger, RunningService } from '@phos/shared';
import { startGraphQLService } from '@phos/shared/graphql-service';
import type { GatewayContext } from './context';
import { createSubgraphFetcher } from './fetcher';
import { liveRoutes } from './live-page';
import { AuthForwardingDataSource } from './subgraphs';
import { supergraphFromFile } from './supergraph';
import { createGatewaySubscriptions } from './subscriptions/gateway-subscriptions';
import type { SubscriptionStats } from './subscriptions/subscription-stats';

export { subscriptionStats } from './subscriptions/subscription-stats';
export type { SubscriptionStats };

export interface GatewayOptions {
  /** Subgraph URLs by name, over the configuration's and the supergraph's (tests start subgraphs on port 0). */
  subgraphUrls?: Record<string, string>;
}

export interface GatewayService extends RunningService {
  readonly port: number;
  /** What this gateway's subscriptions hold open (client and upstream sockets and subscriptions). */
  subscriptionStats(): SubscriptionStats;
}

/**
 * The gateway, whole: the supergraph over HTTP and graphql-ws at `/graphql` (and Sandbox on `/`). Startable
 * on port 0.
 */
export async function start(config: Config, logger: Logger = createLogger('gateway', config.logLevel), options: GatewayOptions = {}): Promise<GatewayService> {
  const urls = { ...config.gateway.subgraphUrls, ...options.subgraphUrls };
  // Tokens are identity's: verified with its public keys, fetched from its JWKS and cached.
  const verifier = createTokenVerifier(config.auth, new URL(config.auth.jwksUrl));
  // One data source per subgraph URL, shared by queries and by the entity fetches of subscription events; all
  // of them fetch through one keep-alive pool.
  const fetcher = createSubgraphFetcher();
  const dataSources = new Map<string, AuthForwardingDataSource>();
  const dataSourceFor = (name: string, url: string) => {
    const key = `${name} ${url}`;
    let dataSource = dataSources.get(key);
    if (!dataSource) dataSources.set(key, (dataSource = new AuthForwardingDataSource({ url, fetcher })));
    return dataSource;
  };
  const gateway = new ApolloGateway({
    supergraphSdl: supergraphFromFile(config.gateway.supergraphPath, logger),
    // `join__graph` requires a url, so every subgraph of a valid supergraph has one.
    buildService: ({ name, url }) => dataSourceFor(name, urls[name] ?? url ?? ''),
    logger: apolloLogger(logger),
  });
  // The gateway is the public endpoint: only the proxies TRUST_PROXY names may say who the client is.
  const trustProxy = proxyTrust(config.gateway.trustProxy);
  const subscriptions = createGatewaySubscriptions({
    clientAddress: trustProxy.addressOf,
    dataSourceFor,
    subgraphUrls: urls,
    upstreamTimeoutMs: config.gateway.subscriptionUpstreamTimeoutMs,
    authenticate: (authorization) => callerFromAuthorization(authorization, verifier),
    allowedOrigins: config.gateway.allowedOrigins,
    isProduction: config.isProduction,
    logger,
  });
  const metrics = createServiceMetrics('gateway');
  const tracer = createTracer('gateway');
  metrics.gauge('phos_websocket_connections', 'Client WebSocket (graphql-ws) connections open.', () => subscriptions.stats().clientSockets);
  metrics.labelledGauge('phos_subscriptions_active', 'Subscriptions running: downstream (clients at the gateway) and upstream (gateway to subgraphs, shared by clients).', ['side'], () => {
    const stats = subscriptions.stats();
    return [
      [{ side: 'downstream' }, stats.clientSubscriptions],
      [{ side: 'upstream' }, stats.upstreamSubscriptions],
    ];
  });
  metrics.gauge('phos_upstream_websockets', 'WebSockets from the gateway to subgraphs.', () => subscriptions.stats().upstreamSockets);
  let loaded = false;
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    loaded = true;
    subscriptions.updateSupergraph(coreSupergraphSdl);
  });

  const service = await startGraphQLService<GatewayContext>({
    port: config.gateway.port,
    portEnv: 'GATEWAY_PORT',
    gateway,
    aliases: ['/'],
    // The live page for staff (static files built from gateway/live).
    routes: liveRoutes(),
    context: async (req) => ({ authorization: req.headers.authorization, ip: req.ip }),
    trustProxy,
    checks: {
      supergraph: async () => {
        if (!loaded) throw new Error('the supergraph is not loaded');
      },
    },
    metrics,
    tracer,
    logger,
    isProduction: config.isProduction,
    attach: (server, apollo) => subscriptions.attach(server, apollo),
  });
  logger.info({ url: service.url }, 'gateway ready');
  return {
    url: service.url,
    port: service.port,
    subscriptionStats: subscriptions.stats,
    async stop() {
      await service.stop();
      await fetcher.close();
      await tracer.shutdown();
    },
  };
}
