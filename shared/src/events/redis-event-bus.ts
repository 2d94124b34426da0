import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from '../logger';
import type { RedisConnections } from '../redis';
import { channelFor } from './event-bus';
import type { DomainEvent, EventBus, EventHandler, EventSubscription } from './event-bus';

/**
 * The event bus on Redis PUB/SUB through graphql-redis-subscriptions. Bodies are delivered raw (as the
 * string published) so that a malformed one reaches the handler's validation instead of being dropped here.
 */
export function createRedisEventBus(redis: RedisConnections, logger: Logger): EventBus {
  const pubsub = new RedisPubSub({
    publisher: redis.publisher,
    subscriber: redis.subscriber,
    deserializer: (source) => source.toString(),
  });
  return {
    async publish(event: DomainEvent) {
      await pubsub.publish(channelFor(event.type), event);
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
  };
}
