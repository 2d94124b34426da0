import { ApolloGateway } from '@apollo/gateway';
import { readFileSync } from 'node:fs';
import { StartupError, createLogger } from '@phos/shared';
import type { Config, Logger, RunningService } from '@phos/shared';
import { startGraphQLService } from '@phos/shared/graphql-service';
import type { GatewayContext } from './context';
import { AuthForwardingDataSource } from './subgraphs';

export interface GatewayOptions {
  /** Subgraph URLs by name, over the configuration's and the supergraph's (tests start subgraphs on port 0). */
  subgraphUrls?: Record<string, string>;
}

export interface GatewayService extends RunningService {
  readonly port: number;
}

function readSupergraph(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new StartupError(`cannot read the supergraph at ${path} (${(error as NodeJS.ErrnoException).code}). Run \`npm run compose\`, or set SUPERGRAPH_PATH.`);
  }
}

/** The gateway, whole: the supergraph over HTTP at `/graphql` (and Sandbox on `/`). Startable on port 0. */
export async function start(config: Config, logger: Logger = createLogger('gateway', config.logLevel), options: GatewayOptions = {}): Promise<GatewayService> {
  const urls = { ...config.gateway.subgraphUrls, ...options.subgraphUrls };
  const apolloLogger = {
    debug: (message: string) => logger.debug(message),
    info: (message: string) => logger.info(message),
    warn: (message: string) => logger.warn(message),
    error: (message: string) => logger.error(message),
  };
  const gateway = new ApolloGateway({
    supergraphSdl: readSupergraph(config.gateway.supergraphPath),
    buildService: ({ name, url }) => new AuthForwardingDataSource({ url: urls[name] ?? url }),
    logger: apolloLogger,
  });
  let loaded = false;
  gateway.onSchemaLoadOrUpdate(() => {
    loaded = true;
  });

  const service = await startGraphQLService<GatewayContext>({
    port: config.gateway.port,
    portEnv: 'GATEWAY_PORT',
    gateway,
    aliases: ['/'],
    context: async (req) => ({ authorization: req.headers.authorization }),
    checks: {
      supergraph: async () => {
        if (!loaded) throw new Error('the supergraph is not loaded');
      },
    },
    logger,
    isProduction: config.isProduction,
  });
  logger.info({ url: service.url }, 'gateway ready');
  return { url: service.url, port: service.port, stop: () => service.stop() };
}
