/**
 * The Redis stream consumer, on real Redis:
 * - claiming what a dead consumer left pending: the entries the stream still holds are handled by the
 *   consumer that claims them; one the stream no longer holds (trimmed while it was pending) is dropped from
 *   the pending list by Redis itself, and nothing is handled for it;
 * - Redis going away between an entry's handling and its acknowledgement: the acknowledgement waits for Redis,
 *   and the entry is not handled again meanwhile.
 */
import { randomUUID } from 'node:crypto';
import { Redis as RedisClient } from 'ioredis';
import type { Redis } from 'ioredis';
import { connectRedis, consumeRedisStream, createLogger } from '@phos/shared';
import type { EventConsumer, RedisConnections, StreamEntry } from '@phos/shared';
import { ownRedis } from './support/processes';
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

describe('Redis going away between handling an entry and acknowledging it', () => {
  test('the acknowledgement waits for Redis; the entry is handled once', async () => {
    const own = await ownRedis({ appendonly: true });
    const connections = await connectRedis(own.url, 'test', createLogger('test', 'silent'));
    const writer = new RedisClient(own.url, { maxRetriesPerRequest: null });
    writer.on('error', () => undefined);
    let consumer: EventConsumer | undefined;
    try {
      const stream = 'test:ack';
      await writer.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
      const handled: string[] = [];
      let restarted: Promise<void> | undefined;
      consumer = await consumeRedisStream(connections, createLogger('test', 'silent'), {
        stream,
        group: 'g',
        consumer: 'c',
        retryBaseMs: 10,
        handle: async (entry) => {
          handled.push(entry.eventId!);
          // Redis dies as the first entry is applied, and is back a second later.
          if (handled.length === 1) {
            await own.kill();
            restarted = new Promise((done) => setTimeout(done, 1000)).then(() => own.start());
          }
        },
      });
      await writer.xadd(stream, '*', 'id', 'first', 'body', '{}');
      await eventually(async () => (restarted ? true : undefined), 5000, 'Redis to be killed');
      await restarted;
      // Once Redis is back the consumer goes on with the next entry, and nothing stays pending.
      await writer.xadd(stream, '*', 'id', 'second', 'body', '{}');
      await eventually(async () => (handled.includes('second') ? true : undefined), 15_000, 'the second entry');
      await eventually(async () => ((await writer.xpending(stream, 'g'))[0] === 0 ? true : undefined), 15_000, 'nothing pending');
      expect(handled).toEqual(['first', 'second']);
    } finally {
      await consumer?.stop();
      writer.disconnect();
      await connections.close();
      await own.remove();
    }
  });
});

