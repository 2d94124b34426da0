import { buildSubgraphSchema } from '@apollo/subgraph';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'graphql';
import { DateTimeScalar, StartupError, USER_REGISTERED, callerFromAuthorization, createRateLimiter, createServiceMetrics, createTokenSigner, createTracer, parseTraceparent, createTokenVerifier, connectRedis, createLogger, createRedisEventBus, projectRoot } from '@phos/shared';
import type { Config, Logger, RunningService, UserRegisteredEvent } from '@phos/shared';
import { openDatabase, pingDatabase } from '@phos/shared/database';
import { startGraphQLService } from '@phos/shared/graphql-service';
import type { Context } from './context';
import type { Resolvers } from './generated/graphql';
import { IDENTITY_MIGRATIONS } from './migrations';
import { OutboxEventSchema } from './outbox/outbox-event.entity';
import { OutboxRelay } from './outbox/outbox.relay';
import { UserSchema } from './users/user.entity';
import { createUserResolvers } from './users/user.resolvers';
import { UserService } from './users/user.service';

export interface IdentityService extends RunningService {
  readonly port: number;
}

/** The identity subgraph, whole: database, Redis, the GraphQL endpoint. Startable on port 0. */
export async function start(config: Config, logger: Logger = createLogger('identity', config.logLevel)): Promise<IdentityService> {
  const redis = await connectRedis(config.redisUrl, 'identity', logger);
  const cleanups: (() => Promise<unknown>)[] = [() => redis.close()];
  const cleanup = async () => {
    for (const close of cleanups.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'Cleanup failed'));
  };
  try {
    const orm = await openDatabase({
      database: config.identity.database,
      entities: [UserSchema, OutboxEventSchema],
      migrations: IDENTITY_MIGRATIONS,
      envName: 'IDENTITY_DATABASE_URL',
      logger,
    });
    cleanups.push(() => orm.close());

    if (!config.auth.privateKeyPem) {
      throw new StartupError('JWT_PRIVATE_KEY must be set in production: an Ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).');
    }
    const signer = await createTokenSigner(config.auth, config.auth.privateKeyPem).catch((error: Error) => {
      throw new StartupError(`${error.message}: generate one with \`openssl genpkey -algorithm ed25519\`.`);
    });
    const verifier = createTokenVerifier(config.auth, signer.jwks());
    const metrics = createServiceMetrics('identity');
    const tracer = createTracer('identity');
    cleanups.push(() => tracer.shutdown());
    const relay = new OutboxRelay(orm, createRedisEventBus(redis, logger), logger, {
      pollIntervalMs: config.identity.outboxPollIntervalMs,
      onPublished: (event) => {
        metrics.eventsPublished.inc({ type: event.type });
        const { data } = JSON.parse(event.body) as UserRegisteredEvent;
        const traceId = parseTraceparent(data.metadata?.traceparent)?.traceId;
        logger.info({ eventId: event.id, userId: data.userId, role: data.role, traceId }, `Published ${USER_REGISTERED} event for user ${data.userId} with role ${data.role}`);
      },
    });
    relay.start();
    metrics.gauge('phos_outbox_backlog', 'Events stored in the outbox and not yet published.', () => relay.backlog());
    metrics.gauge('phos_outbox_unconsumed', 'Events published and not yet acknowledged by every consumer group (published again if Redis restarts).', () => relay.unconsumed());
    cleanups.push(() => relay.stop());
    const users = new UserService(orm, signer, logger, (event) => {
      if (config.identity.faultKillBeforePublish) {
        logger.warn('FAULT_KILL_BEFORE_PUBLISH: killing identity after a commit, before publishing');
        process.kill(process.pid, 'SIGKILL');
      }
      relay.publishCommitted(event);
    });
    if (config.identity.bootstrapAdmin) await users.ensureAdmin(config.identity.bootstrapAdmin);

    const limiter = createRateLimiter(redis.publisher, logger);
    const resolvers: Resolvers = { DateTime: DateTimeScalar, ...createUserResolvers(users, limiter, config.identity.rateLimits) };
    const typeDefs = parse(readFileSync(join(projectRoot, 'schema', 'identity.graphql'), 'utf8'));
    const service = await startGraphQLService<Context>({
      port: config.identity.port,
      portEnv: 'IDENTITY_PORT',
      schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]),
      context: async (req) => ({ ...(await callerFromAuthorization(req.headers.authorization, verifier)), ip: req.ip ?? 'unknown' }),
      routes: {
        '/.well-known/jwks.json': (_req, res) => {
          res.set('cache-control', 'public, max-age=300').json(signer.jwks());
        },
      },
      checks: { database: () => pingDatabase(orm), redis: () => redis.ping() },
      details: async () => ({ outbox: { backlog: await relay.backlog(), unconsumed: await relay.unconsumed() } }),
      metrics,
      tracer,
      logger,
      isProduction: config.isProduction,
    });
    logger.info({ url: service.url }, 'identity subgraph ready');
    return {
      url: service.url,
      port: service.port,
      async stop() {
        await service.stop();
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
