import { buildSubgraphSchema } from '@apollo/subgraph';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'graphql';
import { DateTimeScalar, callerFromAuthorization, connectRedis, createLogger, createRedisEventBus, projectRoot } from '@phos/shared';
import type { Config, Logger, RunningService } from '@phos/shared';
import { openDatabase, pingDatabase } from '@phos/shared/database';
import { startGraphQLService } from '@phos/shared/graphql-service';
import type { Context } from './context';
import type { Resolvers } from './generated/graphql';
import { Migration20261128000000CreateUsers } from './migrations/Migration20261128000000CreateUsers';
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
      entities: [UserSchema],
      migrations: [Migration20261128000000CreateUsers],
      envName: 'IDENTITY_DATABASE_URL',
      logger,
    });
    cleanups.push(() => orm.close());

    const users = new UserService(orm, createRedisEventBus(redis, logger), config.auth, logger);
    if (config.identity.bootstrapAdmin) await users.ensureAdmin(config.identity.bootstrapAdmin);

    const resolvers: Resolvers = { DateTime: DateTimeScalar, ...createUserResolvers(users) };
    const typeDefs = parse(readFileSync(join(projectRoot, 'schema', 'identity.graphql'), 'utf8'));
    const service = await startGraphQLService<Context>({
      port: config.identity.port,
      portEnv: 'IDENTITY_PORT',
      schema: buildSubgraphSchema([{ typeDefs, resolvers: resolvers as never }]),
      context: (req) => callerFromAuthorization(req.headers.authorization, config.auth),
      checks: { database: () => pingDatabase(orm), redis: () => redis.ping() },
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
