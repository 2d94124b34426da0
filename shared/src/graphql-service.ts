import { ApolloServer } from '@apollo/server';
import type { ApolloServerOptionsWithGateway, ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import Negotiator from 'negotiator';
import type { Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import type { Server } from 'node:http';
import { INTERNAL_NETWORKS, isInternalAddress, proxyTrust } from './client-address';
import type { ProxyTrust } from './client-address';
import { createFormatError } from './graphql';
import { QUERY_LIMITS, limitRules } from './limits';
import { healthzHandler, readyzHandler } from './health';
import type { HealthChecks } from './health';
import { createHttpServer, listen } from './http';
import { apolloLogger } from './logger';
import type { Logger } from './logger';
import { createServiceMetrics } from './metrics';
import type { ServiceMetrics } from './metrics';
import { createTracingPlugin } from './tracing/tracing-plugin';
import type { Tracer } from './tracing/tracer';
import { StartupError } from './process';

/**
 * Checks the operation a request runs, before it runs.
 * - The document must hold the operation the request names, or exactly one when it names none. graphql-js
 *   answers that itself (OPERATION_RESOLUTION_FAILURE, HTTP 400), but `@apollo/gateway` throws it from its
 *   executor, which Apollo answers with HTTP 500 and INVALID_GRAPHQL, as if the server had failed.
 * - Subscriptions run over graphql-ws, on the same path. Over HTTP, a subscription would run its field's
 *   resolver once with no event (an internal error in a subgraph, a 500 from the gateway), so it is refused:
 *   HTTP 400, BAD_REQUEST, with the way to subscribe in the message. The gateway's queries and mutations over
 *   WebSockets pass through here too; its subscriptions never do.
 */
const OPERATION_CHECK: GraphQLRequestListener<BaseContext> = {
  async didResolveOperation({ operation, request }) {
    if (!operation) {
      const message = request.operationName ? `Unknown operation named "${request.operationName}".` : 'Must provide operation name if query contains multiple operations.';
      throw new GraphQLError(message, { extensions: { code: ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE, http: { status: 400 } } });
    }
    if (operation.operation !== 'subscription') return;
    throw new GraphQLError('Subscriptions are served over WebSockets (graphql-ws, subprotocol graphql-transport-ws) at this same path, not over HTTP.', {
      extensions: { code: ApolloServerErrorCode.BAD_REQUEST, http: { status: 400 } },
    });
  },
};
const operationCheck: ApolloServerPlugin<BaseContext> = { requestDidStart: async () => OPERATION_CHECK };

/** The media types Apollo chooses from for a single result, in its order (`MEDIA_TYPES` of @apollo/server). */
const RESULT_MEDIA_TYPES = ['application/json; charset=utf-8', 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];
/** The errors of a document that cannot run: it does not parse or validate, names no operation, or its variables do not fit. */
const DOCUMENT_ERROR_CODES = new Set<unknown>([
  ApolloServerErrorCode.GRAPHQL_PARSE_FAILED,
  ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
  ApolloServerErrorCode.OPERATION_RESOLUTION_FAILURE,
  ApolloServerErrorCode.BAD_USER_INPUT,
]);

/**
 * GraphQL over HTTP: a well-formed request whose document cannot run answers 400 when the answer is
 * `application/graphql-response+json`, and 200, the errors in the body, when it is `application/json`, which
 * older clients read only from a 200. Apollo answers 400 to both; this turns the second into 200. The media
 * type is Apollo's own choice from the `Accept` header (none means `application/json`). Requests that are not
 * GraphQL requests (no `query`, CSRF prevention, a subscription) keep their 400.
 */
const STATUS_FOR_JSON: GraphQLRequestListener<BaseContext> = {
  async willSendResponse({ request, response }) {
    if (response.http.status !== 400 || response.body.kind !== 'single') return;
    const { data, errors } = response.body.singleResult;
    if (data !== undefined || !errors?.length || !errors.every((error) => DOCUMENT_ERROR_CODES.has(error.extensions?.code))) return;
    const accept = request.http?.headers.get('accept');
    const type = accept ? new Negotiator({ headers: { accept } }).mediaType(RESULT_MEDIA_TYPES) : RESULT_MEDIA_TYPES[0];
    if (type === RESULT_MEDIA_TYPES[0]) response.http.status = 200;
  },
};
const statusForJson: ApolloServerPlugin<BaseContext> = { requestDidStart: async () => STATUS_FOR_JSON };

export interface GraphQLServiceOptions<TContext extends BaseContext> {
  /** The port to listen on; 0 picks a free one. */
  port: number;
  /** The variable that sets the port, named when the port is taken (e.g. `IDENTITY_PORT`). */
  portEnv: string;
  /** What the service serves: a schema (subgraphs) or a gateway. */
  schema?: GraphQLSchema;
  gateway?: ApolloServerOptionsWithGateway<TContext>['gateway'];
  /** Builds the context of one HTTP request. */
  context: (req: Request) => Promise<TContext>;
  /** Whose X-Forwarded-For `req.ip` believes. Default: peers on loopback and private networks. */
  trustProxy?: ProxyTrust;
  /** The dependencies `/readyz` checks. */
  checks: HealthChecks;
  /** Extra GET routes (identity's `/.well-known/jwks.json`). */
  routes?: Record<string, (req: Request, res: Response) => void>;
  /** Extra figures `/readyz` shows without deciding on them (consumer lag, outbox backlog). */
  details?: () => Promise<Record<string, unknown>>;
  logger: Logger;
  /** Production turns off introspection, the landing page and error details. */
  isProduction: boolean;
  /** Extra paths that serve the same endpoint as `/graphql` (the gateway serves Sandbox on `/` too). */
  aliases?: string[];
  /**
   * Called with the HTTP server before it listens, to attach a WebSocket server. The returned function is
   * called on stop, before the HTTP server drains. `apollo` returns the started Apollo Server, for running
   * operations received over the WebSocket (call it only once a connection arrives, not during `attach`).
   */
  attach?: (server: Server, apollo: () => ApolloServer<TContext>) => () => Promise<void>;
  plugins?: ApolloServerPlugin<TContext>[];
  /**
   * The service's metrics, served at `GET /metrics`; GraphQL request durations and errors are recorded into
   * them. Default: metrics of their own, labelled with the logger's `service`.
   */
  metrics?: ServiceMetrics;
  /**
   * Traces requests: each gets a span (child of its `traceparent` header), put on the context as `trace`.
   * The caller owns the tracer (and shuts it down). Default: no spans, no `trace` on the context.
   */
  tracer?: Tracer;
}

export interface GraphQLService {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** What `/metrics` serves. */
  readonly metrics: ServiceMetrics;
  /** Lets in-flight requests finish, closes connections; resources the caller owns are closed by the caller. */
  stop(): Promise<void>;
}

/** Express + Apollo Server on one HTTP server: `/graphql`, `/healthz`, `/readyz`, CORS, graceful drain. */
export async function startGraphQLService<TContext extends BaseContext>(options: GraphQLServiceOptions<TContext>): Promise<GraphQLService> {
  const metrics = options.metrics ?? createServiceMetrics(String(options.logger.bindings().service ?? 'phos'));
  const app = express();
  app.disable('x-powered-by');
  // No ETag: answers are `no-store` (patient data must not sit in any cache), so nothing ever revalidates
  // one, and hashing each body is work for nothing.
  app.set('etag', false);
  // `req.ip` is the client's: X-Forwarded-For is believed only from the proxies the service trusts (a
  // subgraph: the gateway, on loopback or a private network; the gateway: TRUST_PROXY).
  app.set('trust proxy', (options.trustProxy ?? proxyTrust(INTERNAL_NETWORKS)).trusts);
  const server = createHttpServer(app);
  // `apollo` is read lazily: the WebSocket server needs it only once connections arrive, after start.
  const detach: (() => Promise<void>) | undefined = options.attach?.(server, () => apollo);

  const apollo: ApolloServer<TContext> = new ApolloServer<TContext>({
    ...(options.gateway ? { gateway: options.gateway } : { schema: options.schema as GraphQLSchema }),
    logger: apolloLogger(options.logger),
    // The process entry (runService) owns SIGTERM/SIGINT and stops everything in order; Apollo's own
    // handlers would stop it a second time, concurrently, and hang the shutdown.
    stopOnTerminationSignals: false,
    introspection: !options.isProduction,
    // The same limits over HTTP and WebSocket: tokens at parse time, depth, aliases and cost at validation.
    parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
    validationRules: limitRules(),
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: !options.isProduction,
    formatError: createFormatError(options.logger, options.isProduction),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: 10_000 }),
      operationCheck as ApolloServerPlugin<TContext>,
      statusForJson as ApolloServerPlugin<TContext>,
      // Subgraphs: no per-request federated tracing, which nothing here reads.
      ...(options.schema ? [ApolloServerPluginInlineTraceDisabled()] : []),
      options.isProduction ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      ...(detach ? [{ async serverWillStart() { return { drainServer: detach } } }] : []),
      metrics.plugin as ApolloServerPlugin<TContext>,
      ...(options.tracer ? [createTracingPlugin(options.tracer) as ApolloServerPlugin<TContext>] : []),
      ...(options.plugins ?? []),
    ],
  });
  await apollo.start();

  app.get('/healthz', healthzHandler);
  app.get('/readyz', readyzHandler(options.checks, options.details));
  // Metrics are for the operator's scraper: from loopback or a private network, not through a proxy (which
  // would add X-Forwarded-For). Requests from the internet, direct or proxied, are refused.
  app.get('/metrics', (req, res) => {
    if (isInternalAddress(req.socket.remoteAddress) && req.headers['x-forwarded-for'] === undefined) return metrics.handler(req, res);
    res.status(403).type('text/plain').send('Metrics are served to loopback and private networks only.\n');
  });
  for (const [path, handler] of Object.entries(options.routes ?? {})) app.get(path, handler);
  // Exact paths only: `/` as an alias must not swallow every other path.
  app.all(
    ['/graphql', ...(options.aliases ?? [])],
    // Any origin may call (Apollo Sandbox among them); credentials travel in the Authorization header, never cookies.
    cors({ origin: true, maxAge: 600 }),
    express.json({ limit: '100kb' }),
    expressMiddleware(apollo, { context: ({ req }) => options.context(req) }),
  );

  let port: number;
  try {
    port = await listen(server, options.port);
  } catch (error) {
    await detach?.();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartupError(`port ${options.port} is in use: stop what uses it, or set ${options.portEnv} to another port.`);
    }
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    port,
    server,
    metrics,
    stop: () => apollo.stop(),
  };
}
