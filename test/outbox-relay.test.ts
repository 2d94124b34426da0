/**
 * The outbox relay's stop, on real Redis and SQLite: it ends the round under way and returns, without
 * sleeping out the polling interval it was about to start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, createLogger, createRedisEventBus } from '@phos/shared';
import type { RedisConnections } from '@phos/shared';
import { openDatabase } from '@phos/shared/database';
import type { Database } from '@phos/shared/database';
import { IDENTITY_MIGRATIONS } from '../subgraphs/identity/src/migrations';
import { OutboxEventSchema } from '../subgraphs/identity/src/outbox/outbox-event.entity';
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
});
