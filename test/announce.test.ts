/**
 * The patients consumer acknowledges an event once its patient is stored, without waiting for the
 * announcement to `patientCreated` subscribers: an announcement that never gets an answer holds up neither the
 * next events nor the shutdown. On real Redis, with PostgreSQL and with the embedded SQLite.
 */
import { randomUUID } from 'node:crypto';
import { USER_REGISTERED, USER_REGISTERED_CHANNEL, connectRedis, createLogger, createRedisEventBus, createUserRegisteredEvent, serializeEvent } from '@phos/shared';
import type { EventConsumer, RedisConnections } from '@phos/shared';
import type { Database } from '@phos/shared/database';
import type { Patient } from '../subgraphs/patients/src/patients/patient.entity';
import { PatientService } from '../subgraphs/patients/src/patients/patient.service';
import { PATIENTS_GROUP, consumeUserRegistered } from '../subgraphs/patients/src/patients/user-registered.consumer';
import { createDatabases, openPatientsDatabase } from './support/databases';
import type { TestDatabases } from './support/databases';
import { ownRedis } from './support/processes';
import type { OwnRedis } from './support/processes';
import { eventually } from './support/redis';

describe.each(['postgres', 'sqlite'] as const)('on %s', (kind) => {
  let redis: OwnRedis;
  let connections: RedisConnections;
  let databases: TestDatabases;
  let orm: Database;
  let consumer: EventConsumer | undefined;
  const logger = createLogger('test', 'silent');

  beforeAll(async () => {
    redis = await ownRedis();
    connections = await connectRedis(redis.url, 'test', logger, { subscriber: true });
    databases = await createDatabases(kind);
    orm = await openPatientsDatabase(kind, databases);
  });

  afterAll(async () => {
    await consumer?.stop();
    await orm?.close(true);
    await databases?.drop();
    await connections?.close();
    await redis?.remove();
  });

  const append = async () => {
    const event = createUserRegisteredEvent({ userId: randomUUID(), email: `announce-${randomUUID()}@example.org`, role: 'Patient', firstName: 'Ann', lastName: 'Ounce', registeredAt: new Date().toISOString() });
    await connections.publisher.xadd(USER_REGISTERED_CHANNEL, '*', 'id', event.id, 'type', USER_REGISTERED, 'body', serializeEvent(event));
    return event.data.userId;
  };

  it('acknowledges events whose announcement never answers, and stops all the same', async () => {
    const patients = new PatientService(orm);
    const announced: string[] = [];
    let calls = 0;
    consumer = await consumeUserRegistered({
      events: createRedisEventBus(connections, logger),
      patients,
      logger,
      config: { port: 0, database: kind === 'postgres' ? { kind, url: databases.patients } : { kind, path: databases.patients }, maxDeliveries: 5, claimIdleMs: 30_000, retryBaseMs: 10 },
      // The first announcement hangs, as a PUBLISH to a Redis that stopped answering would.
      onPatientCreated: (patient: Patient) => {
        calls += 1;
        if (calls === 1) return new Promise<void>(() => undefined);
        announced.push(patient.userId);
        return Promise.resolve();
      },
    });
    const users = [await append(), await append(), await append()];

    await eventually(async () => (announced.length >= 2 ? true : undefined), 15_000, 'the later events announced');
    expect(announced).toEqual(users.slice(1));
    const stored = await patients.findByUserIds(users);
    expect(users.filter((userId) => stored.has(userId))).toEqual(users);
    // All three acknowledged, the first included.
    await eventually(async () => ((await connections.publisher.xpending(USER_REGISTERED_CHANNEL, PATIENTS_GROUP)) as unknown[])[0] === 0 || undefined, 15_000, 'no event pending');

    // The consumer's own stop, then a few seconds at most for the announcement that hangs (the test's timeout
    // catches a stop that waits for ever).
    await consumer.stop();
    consumer = undefined;
  }, 30_000);
});
