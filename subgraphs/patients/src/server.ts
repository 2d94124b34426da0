import { buildSubgraphSchema } from '@apollo/subgraph';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { WebSocketServer } from 'ws';
import {
  DateTimeScalar,
  QUERY_LIMITS,
  limitRules,
  callerFromAuthorization,
  closeWebSockets,
  createTokenVerifier,
  connectRedis,
  createGraphQLPubSub,
  createLogger,
  createRedisEventBus,
  createServiceMetrics,
  createTracer,
  projectRoot,
  serveGraphQLWs,
  USER_REGISTERED_CHANNEL,
} from '@phos/shared';
import type { Config, Logger, RunningService } from '@phos/shared';
import { pingDatabase } from '@phos/shared/database';
import { startGraphQLService } from '@phos/shared/graphql-service';
import type { Context } from './context';
import type { Resolvers } from './generated/graphql';
import { openPatientsDatabase } from './database';
import { createPatientResolvers, patientCreatedTopic, toMessage } from './patients/patient.resolvers';
import type { PatientMessage } from './patients/patient.resolvers';
import { createSharedSubscribe } from './patients/shared-execution';
import { PatientService } from './patients/patient.service';
import { PATIENTS_GROUP, consumeUserRegistered } from './patients/user-registered.consumer';

/** graphql-ws: subscriptions one connection may hold at once. */
const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

export interface PatientsService extends RunningService {
  readonly port: number;
}

/**
 * The patients subgraph, whole: database, the UserRegistered listener, the GraphQL endpoint over HTTP and
 * graphql-ws. Startable on port 0.
 */
export async function start(config: Config, logger: Logger = createLogger('patients', config.logLevel)): Promise<PatientsService> {
  const redis = await connectRedis(config.redisUrl, 'patients', logger, { subscriber: true });
  const cleanups: (() => Promise<unknown>)[] = [() => redis.close()];
  const cleanup = async () => {
    for (const close of cleanups.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'Cleanup failed'));
  };
  try {
    const orm = await openPatientsDatabase(config.patients.database, logger);
    cleanups.push(() => orm.close());

    const patients = new PatientService(orm, logger);
    // Before the database closes: the ends of the watches the stop itself ended.
    cleanups.push(() => patients.flushWatchEnds());
    // Tokens are identity's: verified with its public keys, fetched from its JWKS and cached.
    const verifier = createTokenVerifier(config.auth, new URL(config.auth.jwksUrl));
    const pubsub = createGraphQLPubSub(redis);
    const topic = patientCreatedTopic(redis.publisher.options.db ?? 0);
    const metrics = createServiceMetrics('patients');
    const tracer = createTracer('patients');
    cleanups.push(() => tracer.shutdown());
    const consumer = await consumeUserRegistered({
      observer: metrics.consumerObserver(USER_REGISTERED_CHANNEL, PATIENTS_GROUP),
      tracer,
      events: createRedisEventBus(redis, logger),
      patients,
      logger,
      config: config.patients,
      onPatientCreated: (patient, trace) => pubsub.publish(topic, toMessage(patient, trace.traceparent())),
    });
    cleanups.push(() => consumer.stop());
    // Read when Prometheus scrapes, from the consumer group's figures in Redis.
    metrics.gauge('phos_events_consumer_lag', 'Events in the stream not yet delivered to the patients group.', async () => (await consumer.stats()).lag);
    metrics.gauge('phos_events_consumer_pending', 'Events delivered to the patients group and not yet acknowledged.', async () => (await consumer.stats()).pending);
    metrics.gauge('phos_events_dead_letters', 'Events in the dead-letter stream.', async () => (await consumer.stats()).deadLetters);

    const resolvers: Resolvers = { DateTime: DateTimeScalar, ...createPatientResolvers(patients, topic) };
    const typeDefs = parse(readFileSync(join(projectRoot, 'schema', 'patients.graphql'), 'utf8'));
    const schema = buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]);

    const service = await startGraphQLService<Context>({
      port: config.patients.port,
      portEnv: 'PATIENTS_PORT',
      schema,
      context: (req) => callerFromAuthorization(req.headers.authorization, verifier),
      checks: { database: () => pingDatabase(orm), redis: () => redis.ping() },
      details: async () => ({ events: await consumer.stats() }),
      metrics,
      tracer,
      logger,
      isProduction: config.isProduction,
      attach: (server) => {
        // Frames over 64 KiB are refused (the socket closes with 1009).
        const wsServer = new WebSocketServer({ server, path: '/graphql', maxPayload: 64 * 1024 });
        metrics.gauge('phos_websocket_connections', 'WebSocket (graphql-ws) connections open.', () => wsServer.clients.size);
        const callers = new WeakMap<object, Awaited<ReturnType<typeof callerFromAuthorization>>>();
        const wsHandler = serveGraphQLWs<{ authorization?: unknown }>(
          {
            schema,
            connectionInitWaitTimeout: 3000,
            // A token that is sent must be valid: a bad or expired one closes the socket with 4403.
            onConnect: async (ctx) => {
              const header = ctx.connectionParams?.authorization;
              const result = await callerFromAuthorization(typeof header === 'string' ? header : undefined, verifier);
              if (result.tokenError) return false;
              callers.set(ctx.extra, result);
              return true;
            },
            // The same limits as over HTTP: tokens at parse time, then depth, aliases and cost.
            onSubscribe: (ctx, id, payload) => {
              if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) {
                return [new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection.`, { extensions: { code: 'BAD_USER_INPUT' } })];
              }
              let document;
              try {
                document = parse(payload.query, { maxTokens: QUERY_LIMITS.maxTokens });
              } catch (error) {
                return [error as GraphQLError];
              }
              const errors = validate(schema, document, [...specifiedRules, ...limitRules()]);
              if (errors.length) return errors;
              const contextValue: Context = { ...(callers.get(ctx.extra) ?? { caller: null }), delivery: { socket: ctx.extra.socket, id } };
              return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
            },
            context: (ctx) => callers.get(ctx.extra) ?? { caller: null },
            // Each event is executed once per distinct operation and role, not once per subscriber; its result
            // carries the traceparent of the registration that created the patient.
            subscribe: createSharedSubscribe({
              pubsub,
              logger,
              deliveryOf: (args) => (args.contextValue as Context).delivery,
              audienceOf: (args) => (args.contextValue as Context).caller?.role ?? '',
              extensionsOf: (event) => {
                const traceparent = (event as PatientMessage | null)?.traceparent;
                return traceparent ? { traceparent } : undefined;
              },
            }),
          },
          wsServer,
          { logger, isProduction: config.isProduction },
        );
        return async () => {
          logger.debug({ sockets: wsServer.clients.size }, 'Closing WebSockets');
          await closeWebSockets(wsServer.clients);
          await wsHandler.dispose();
          await new Promise<void>((resolve) => wsServer.close(() => resolve()));
        };
      },
    });
    logger.info({ url: service.url }, 'patients subgraph ready');
    return {
      url: service.url,
      port: service.port,
      async stop() {
        await service.stop();
        logger.debug('HTTP and WebSocket servers closed');
        await cleanup();
        logger.debug('Consumer, database and Redis closed');
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
