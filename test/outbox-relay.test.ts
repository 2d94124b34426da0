/**
 * The outbox relay, on SQLite: its stop (on real Redis) ends the round under way and returns, without
 * sleeping out the polling interval it was about to start; and its comparison with Redis (against a bus that
 * restarts on cue, which real Redis cannot be made to do between two commands) marks nothing consumed on the
 * word of a Redis that restarted while it asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, createLogger, createRedisEventBus } from '@phos/shared';
import type { EventBus, RedisConnections } from '@phos/shared';
import { openDatabase } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { IDENTITY_MIGRATIONS } from '../subgraphs/identity/src/migrations';
import { OutboxEvent, OutboxEventSchema } from '../subgraphs/identity/src/outbox/outbox-event.entity';
import { OutboxRelay } from '../subgraphs/identity/src/outbox/outbox.relay';
import { UserSchema } from '../subgraphs/identity/src/users/user.entity';
import { REDIS_URL } from './support/system';

describe('the outbox relay', () => {
  const logger = createLogger('test', 'silent');
  let dir: string;
  let orm: Database;
  let redis: RedisConnections;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'phos-relay-'));
    orm = await openDatabase({ database: { kind: 'sqlite', path: join(dir, 'identity.sqlite') }, entities: [UserSchema, OutboxEventSchema], migrations: IDENTITY_MIGRATIONS, envName: 'IDENTITY_DATABASE_URL', logger });
    redis = await connectRedis(REDIS_URL, 'test', logger);
  });
  afterAll(async () => {
    await redis?.close();
    await orm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('stops during its first round without waiting for the next poll (ten minutes away)', async () => {
    const relay = new OutboxRelay(orm, createRedisEventBus(redis, logger), logger, { pollIntervalMs: 600_000 });
    relay.start();
    // The first round (compare with Redis, publish a batch) is under way: stop must not sleep out the interval.
    await relay.stop();
    expect(await relay.backlog()).toBe(0);
  });

  test('marks nothing consumed when Redis restarted between reading its run and asking what its groups hold', async () => {
    const id = '6f1c1f0e-0000-4000-8000-0000000000aa';
    const minuteAgo = new Date(Date.now() - 60_000);
    await orm.em.fork().insert(OutboxEvent, { id, type: 'UserRegistered', body: '{}', createdAt: minuteAgo, publishedAt: minuteAgo, publishedTo: 'run-a', consumedAt: null });
    const runs = ['run-a', 'run-b'];
    // Redis restarts (run-a → run-b, empty) just after the relay read its run: the fresh one's groups hold
    // nothing, so it would say everything before now was consumed.
    const bus: EventBus = {
      publish: async () => undefined,
      consume: async () => {
        throw new Error('not used');
      },
      instance: async () => (runs.length > 1 ? runs.shift()! : runs[0]!),
      consumedBefore: async () => Date.now(),
    };
    const relay = new OutboxRelay(orm, bus, logger);
    expect(await relay.watch()).toEqual({ republish: 0, consumed: 0 });
    expect((await orm.em.fork().findOneOrFail(OutboxEvent, id)).consumedAt).toBeNull();
    // The next comparison sees the new run: the row went to a Redis that is gone, so it is published again.
    expect(await relay.watch()).toEqual({ republish: 1, consumed: 0 });
  });
});
