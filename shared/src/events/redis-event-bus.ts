import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from '../logger';
import type { RedisConnections } from '../redis';
import { channelFor } from './event-bus';
import type { EventBus, EventHandler, EventSubscription, OutgoingEvent } from './event-bus';
import { consumeRedisStream } from './redis-stream-consumer';

/**
 * The event bus on Redis: a stream per event type for durable, at-least-once delivery to consumer groups,
 * and PUB/SUB on a channel of the same name for live listeners (`redis-cli subscribe events:…`). Live bodies
 * are delivered raw (the string published) so a malformed one reaches the handler's validation.
 */
export function createRedisEventBus(redis: RedisConnections, logger: Logger): EventBus {
  const pubsub = new RedisPubSub({
    publisher: redis.publisher,
    subscriber: redis.subscriber,
    deserializer: (source) => source.toString(),
  });
  return {
    async publish(event: OutgoingEvent) {
      const name = channelFor(event.type);
      // One MULTI: the stream append and the live announcement happen together or not at all.
      const results = await redis.publisher.multi().xadd(name, '*', 'id', event.id, 'type', event.type, 'body', event.body).publish(name, event.body).exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('the Redis transaction was discarded');
    },
    async subscribe(channel: string, onEvent: EventHandler): Promise<EventSubscription> {
      const id = await pubsub.subscribe<string>(channel, (body) => {
        onEvent(body).catch((error: unknown) => logger.error({ err: error, channel }, 'Event handler failed'));
      });
      return {
        async close() {
          pubsub.unsubscribe(id);
        },
      };
    },
    consume: (options) => consumeRedisStream(redis, logger, options),
  };
}
