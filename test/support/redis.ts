import { Redis } from 'ioredis';
import { patientCreatedTopic } from '../../subgraphs/patients/src/patients/patient.resolvers';
import { REDIS_URL } from './system';

/** The channel the patients subgraph announces new patients on, in the suites' Redis database (15 by default). */
export const PATIENT_CREATED_CHANNEL = patientCreatedTopic(Number(new URL(REDIS_URL).pathname.slice(1) || 0));

/** A plain Redis client for assertions and for publishing raw events; `quit()` it in `afterAll`. */
export function redisClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Waits until `channel` has at least `count` subscribers (graphql-redis-subscriptions subscribes lazily). */
export async function waitForSubscribers(redis: Redis, channel: string, count = 1, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [, subscribers] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
    if (Number(subscribers) >= count) return;
    if (Date.now() > deadline) throw new Error(`${channel} has ${subscribers} subscribers, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
