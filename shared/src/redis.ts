import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from './logger';
import { StartupError } from './process';

export type { Redis };

/** The oldest Redis the services run on: the rate limiter counts with `EXPIRE … NX`, which came with 7.0. */
const MIN_REDIS_MAJOR = 7;

/** The version a Redis server gives in `INFO server`, if it gives one. */
export function redisVersionOf(info: string): string | undefined {
  return /^redis_version:([^\r\n]+)/m.exec(info)?.[1];
}

/** One process's Redis connections: a command connection and, if asked for, a subscriber (SUBSCRIBE blocks its connection). */
export interface RedisConnections {
  readonly publisher: Redis;
  /** Only when connected with `subscriber: true` (services that listen to channels). */
  readonly subscriber?: Redis;
  /** Resolves when every connection answers; rejects otherwise (for `/readyz`). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

function createClient(url: string, name: string, logger: Logger): Redis {
  const client = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    // Fail fast while disconnected instead of queueing: callers decide what a failed command means.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    // Reconnect forever, with backoff capped at 2 s: the service recovers when Redis comes back.
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
  });
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) logger.warn({ redis: name, err: { message: error.message } }, 'Redis connection lost; reconnecting');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info({ redis: name }, 'Redis connection restored');
    down = false;
  });
  return client;
}

/**
 * Opens the command connection, and the subscriber connection when `options.subscriber` is set. Throws
 * {@link StartupError} naming `REDIS_URL` when Redis does not answer, or is older than 7.0 (on 6.x the rate
 * limiter's script fails and every attempt would be let through), after closing whatever it opened.
 */
export async function connectRedis(url: string, name: string, logger: Logger, options: { subscriber?: boolean } = {}): Promise<RedisConnections> {
  const publisher = createClient(url, `${name}:publisher`, logger);
  const subscriber = options.subscriber ? createClient(url, `${name}:subscriber`, logger) : undefined;
  const safeUrl = url.replace(/\/\/[^@/]*@/, '//***@');
  const giveUp = (message: string) => {
    publisher.disconnect();
    subscriber?.disconnect();
    return new StartupError(message);
  };
  try {
    await Promise.all([publisher.connect(), subscriber?.connect()]);
  } catch (error) {
    throw giveUp(`cannot reach Redis at REDIS_URL=${safeUrl} (${(error as Error).message}). Start Redis (for example \`redis-server\`) or set REDIS_URL.`);
  }
  // A server that keeps INFO to itself (some managed ones) is taken at its word.
  const version = await publisher.info('server').then(redisVersionOf, () => undefined);
  if (version && Number.parseInt(version, 10) < MIN_REDIS_MAJOR) {
    throw giveUp(`Redis at REDIS_URL=${safeUrl} is version ${version}; the services need Redis ${MIN_REDIS_MAJOR}.0 or newer.`);
  }
  return {
    publisher,
    subscriber,
    async ping() {
      await Promise.all([publisher.ping(), !subscriber || subscriber.status === 'ready' ? Promise.resolve() : Promise.reject(new Error('subscriber not ready'))]);
    },
    async close() {
      await Promise.all([publisher.quit().catch(() => publisher.disconnect()), subscriber?.quit().catch(() => subscriber.disconnect())]);
    },
  };
}

/**
 * A GraphQL PubSub over these connections, for subscription fan-out across replicas. It shares the
 * process's two connections; payloads travel as JSON.
 */
export function createGraphQLPubSub(redis: RedisConnections): RedisPubSub {
  if (!redis.subscriber) throw new Error('A GraphQL PubSub needs the subscriber connection: connectRedis(…, { subscriber: true }).');
  return new RedisPubSub({ publisher: redis.publisher, subscriber: redis.subscriber });
}
