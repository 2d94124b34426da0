import type { Logger } from '../logger';
import type { RedisConnections } from '../redis';
import { channelFor } from './event-bus';
import type { EventBus, OutgoingEvent } from './event-bus';
import { consumeRedisStream } from './redis-stream-consumer';
import { consumedBefore, runIdOf } from './redis-streams';

/**
 * The event bus on Redis: a stream per event type for durable, at-least-once delivery to consumer groups,
 * and PUB/SUB on a channel of the same name for live listeners outside the system
 * (`redis-cli subscribe events:userregisteredevent`).
 */
export function createRedisEventBus(redis: RedisConnections, logger: Logger): EventBus {
  return {
    async publish(events: OutgoingEvent[]) {
      if (events.length === 0) return;
      // One MULTI: the stream appends and the live announcements happen together or not at all.
      const multi = redis.publisher.multi();
      for (const event of events) {
        const name = channelFor(event.type);
        multi.xadd(name, '*', 'id', event.id, 'type', event.type, 'body', event.body).publish(name, event.body);
      }
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('the Redis transaction was discarded');
    },
    consume: (options) => consumeRedisStream(redis, logger, options),
    instance: () => runIdOf(redis.publisher),
    consumedBefore: (type) => consumedBefore(redis.publisher, channelFor(type)),
  };
}
