/**
 * The patients subgraph's UserRegistered listener, fed raw events on the contract's Redis channel.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { USER_REGISTERED_CHANNEL, createUserRegisteredEvent } from '@phos/shared';
import type { EventRole } from '@phos/shared';
import { queryPostgres } from './support/databases';
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { redisClient, waitForSubscribers } from './support/redis';
import { startSystem } from './support/system';
import type { TestSystem } from './support/system';

const PATIENT_CREATED = `subscription { patientCreated { id userId email } }`;

function event(role: EventRole = 'Patient') {
  return createUserRegisteredEvent({
    userId: randomUUID(),
    email: `event-${randomUUID()}@example.org`,
    role,
    firstName: 'Event',
    lastName: 'Test',
    registeredAt: new Date().toISOString(),
  });
}

let system: TestSystem;
let redis: Redis;
let client: ReturnType<typeof wsClient>;
let live: ReturnType<typeof collect>;

beforeAll(async () => {
  system = await startSystem('postgres');
  redis = redisClient();
  client = wsClient(system.patientsUrl);
  live = collect(client, PATIENT_CREATED);
  await waitForSubscribers(redis, 'patients:patientcreated');
  await waitForSubscribers(redis, USER_REGISTERED_CHANNEL);
});
afterAll(async () => {
  await client?.dispose();
  await redis?.quit();
  await system?.stop();
});

async function patientsOf(userId: string): Promise<number> {
  const [row] = await queryPostgres<{ count: string }>(system.databases.patients, 'select count(*) from patients where user_id = $1', [userId]);
  return Number(row.count);
}

const arrived = (userId: string) => live.next((result) => result.data?.patientCreated.userId === userId);

it('skips malformed events and still handles the valid one behind them', async () => {
  const valid = event();
  const unknownVersion = { ...event(), version: 99 };
  const missingFields = { ...event(), data: { userId: randomUUID(), role: 'Patient' } };
  for (const body of ['not json {', '[]', JSON.stringify(unknownVersion), JSON.stringify(missingFields), JSON.stringify({ ...event(), data: { ...event().data, role: 'patient' } })]) {
    await redis.publish(USER_REGISTERED_CHANNEL, body);
  }
  await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(valid));
  const result = await arrived(valid.data.userId);
  expect(result.data!.patientCreated.email).toBe(valid.data.email);
  expect(await patientsOf(unknownVersion.data.userId)).toBe(0);
  expect(await patientsOf(missingFields.data.userId)).toBe(0);
});

it('creates one patient when the same event arrives twice', async () => {
  const twice = event();
  await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(twice));
  await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(twice));
  await Promise.all([redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(twice)), redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(twice))]);
  await arrived(twice.data.userId);
  // An event published after the repeats: once it is handled, so are they.
  const sentinel = event();
  await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(sentinel));
  await arrived(sentinel.data.userId);
  expect(await patientsOf(twice.data.userId)).toBe(1);
  expect(live.results.filter((result) => result.data?.patientCreated.userId === twice.data.userId)).toHaveLength(1);
});

it('creates no patient for Doctor, Nurse or Admin', async () => {
  const staff = (['Doctor', 'Nurse', 'Admin'] as const).map((role) => event(role));
  for (const body of staff) await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(body));
  const sentinel = event();
  await redis.publish(USER_REGISTERED_CHANNEL, JSON.stringify(sentinel));
  await arrived(sentinel.data.userId);
  for (const body of staff) expect(await patientsOf(body.data.userId)).toBe(0);
});

it('publishes the contract body on the contract channel when a user registers', async () => {
  const listener = redisClient();
  try {
    const received = new Promise<string>((resolve) => listener.on('message', (_channel, message) => resolve(message)));
    await listener.subscribe(USER_REGISTERED_CHANNEL);
    const input = registration();
    const response = await gql(system.gatewayUrl, REGISTER, { input });
    const body = JSON.parse(await received);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: 'UserRegistered',
      version: 1,
      occurredAt: expect.any(String),
      data: {
        userId: response.data.register.user.id,
        email: input.email,
        role: 'Patient',
        firstName: input.firstName,
        lastName: input.lastName,
        registeredAt: response.data.register.user.registeredAt,
        metadata: {},
      },
    });
  } finally {
    listener.disconnect();
  }
});
