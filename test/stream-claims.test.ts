/**
 * Claiming what a dead consumer left pending, on real Redis: the entries the stream still holds are handled
 * by the consumer that claims them; one the stream no longer holds (trimmed while it was pending) is dropped
 * from the pending list by Redis itself, and nothing is handled for it.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis, consumeRedisStream, createLogger } from '@phos/shared';
import type { EventConsumer, RedisConnections, StreamEntry } from '@phos/shared';
import { eventually, redisClient } from './support/redis';
import { REDIS_URL } from './support/system';

describe('claiming entries a dead consumer left pending', () => {
  let redis: Redis;
  let connections: RedisConnections;
  let consumer: EventConsumer | undefined;
  const stream = `test:claims:${randomUUID()}`;

  beforeAll(async () => {
    redis = redisClient();
    connections = await connectRedis(REDIS_URL, 'test', createLogger('test', 'silent'));
  });
  afterAll(async () => {
    await consumer?.stop();
    await redis.del(stream);
    await redis.quit();
    await connections.close();
  });

  test('handles the ones the stream holds, once, and leaves nothing pending for the one it lost', async () => {
    await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
    const kept = await redis.xadd(stream, '*', 'id', 'kept', 'body', '{}');
    const lost = await redis.xadd(stream, '*', 'id', 'lost', 'body', '{}');
    // A consumer reads both and dies; one of them is then trimmed away.
    await redis.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 10, 'STREAMS', stream, '>');
    await redis.xdel(stream, lost!);
    await new Promise((done) => setTimeout(done, 150));

    const handled: StreamEntry[] = [];
    consumer = await consumeRedisStream(connections, createLogger('test', 'silent'), {
      stream,
      group: 'g',
      consumer: 'alive',
      claimIdleMs: 100,
      handle: async (entry) => void handled.push(entry),
    });
    await eventually(async () => (handled.length > 0 ? true : undefined), 5000, 'the claimed entry');
    await eventually(async () => ((await redis.xpending(stream, 'g'))[0] === 0 ? true : undefined), 5000, 'nothing pending');
    expect(handled.map((entry) => ({ streamId: entry.streamId, eventId: entry.eventId, deliveries: entry.deliveries }))).toEqual([{ streamId: kept, eventId: 'kept', deliveries: 2 }]);
  });
});
