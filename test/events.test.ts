/**
 * The patients subgraph's UserRegistered consumer, fed raw entries on the contract's Redis stream, on a Redis
 * of the suite's own (so the stream, the group and the dead letters are the suite's alone).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { USER_REGISTERED_CHANNEL, consumedBefore, createUserRegisteredEvent, groupStats, listDeadLetters, redriveDeadLetters } from '@phos/shared';
import type { EventRole } from '@phos/shared';
import { queryPostgres } from './support/databases';
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { ownRedis } from './support/processes';
import type { OwnRedis } from './support/processes';
import { eventually, waitForSubscribers } from './support/redis';
import { startSystem } from './support/system';
import { Redis as RedisClient } from 'ioredis';
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
let server: OwnRedis;
let redis: Redis;
let client: ReturnType<typeof wsClient>;
let live: ReturnType<typeof collect>;

beforeAll(async () => {
  server = await ownRedis();
  system = await startSystem('postgres', { REDIS_URL: server.url, EVENTS_RETRY_BASE_MS: '10' });
  redis = new RedisClient(server.url);
  client = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
  live = collect(client, PATIENT_CREATED);
  await waitForSubscribers(redis, 'patients:patientcreated');
});
afterAll(async () => {
  await client?.dispose();
  await redis?.quit();
  await system?.stop();
  await server?.remove();
});

/** Appends a raw body to the stream, as the relay does. */
const append = (body: string, id?: string) => redis.xadd(USER_REGISTERED_CHANNEL, '*', ...(id ? ['id', id] : []), 'body', body);
const publish = (e: { id: string }) => append(JSON.stringify(e), e.id);

async function patientsOf(userId: string): Promise<number> {
  const [row] = await queryPostgres<{ count: string }>(system.databases.patients, 'select count(*) from patients where user_id = $1', [userId]);
  return Number(row.count);
}

const arrived = (userId: string) => live.next((result) => result.data?.patientCreated.userId === userId);

it('dead-letters malformed events at once and still handles the valid one behind them', async () => {
  const valid = event();
  const unknownVersion = { ...event(), version: 99 };
  const missingFields = { ...event(), data: { userId: randomUUID(), role: 'Patient' } };
  const lowerCaseRole = { ...event(), data: { ...event().data, role: 'patient' } };
  await append('not json {');
  await append('[]');
  for (const body of [unknownVersion, missingFields, lowerCaseRole]) await publish(body);
  await publish(valid);
  const result = await arrived(valid.data.userId);
  expect(result.data!.patientCreated.email).toBe(valid.data.email);
  expect(await patientsOf(unknownVersion.data.userId)).toBe(0);
  expect(await patientsOf(missingFields.data.userId)).toBe(0);

  const letters = await listDeadLetters(redis, USER_REGISTERED_CHANNEL);
  expect(letters.map((letter) => letter.eventId)).toEqual([undefined, undefined, unknownVersion.id, missingFields.id, lowerCaseRole.id]);
  expect(letters.map((letter) => letter.reason)).toEqual([
    expect.stringMatching(/not JSON/),
    expect.stringMatching(/not a JSON object/),
    expect.stringMatching(/version 99/),
    expect.stringMatching(/data.email/),
    expect.stringMatching(/data.role/),
  ]);
  expect(letters.every((letter) => letter.deliveries === 1)).toBe(true);
  expect(await groupStats(redis, USER_REGISTERED_CHANNEL, 'patients')).toEqual({ lag: 0, pending: 0, deadLetters: 5 });
});

it('redrives a dead letter once the cause is fixed', async () => {
  // An email longer than the column: the database refuses it on every delivery, so it is dead-lettered
  // after EVENTS_MAX_DELIVERIES, while the events behind it flow on.
  const tooLong = event();
  tooLong.data.email = `${'x'.repeat(300)}@example.org`;
  const behind = event();
  await publish(tooLong);
  await publish(behind);
  await arrived(behind.data.userId);
  const letter = await eventually(async () => (await listDeadLetters(redis, USER_REGISTERED_CHANNEL)).find((l) => l.eventId === tooLong.id), 15_000, 'the dead letter');
  expect(letter.deliveries).toBe(5);
  // The database's reason, without the statement it refused (the driver writes the values into its message).
  expect(letter.reason).toBe('failed 5 deliveries: value too long for type character varying(254)');

  // The fix: a wider column. Then the operator redrives it.
  await queryPostgres(system.databases.patients, 'alter table patients alter column email type varchar(400)');
  expect(await redriveDeadLetters(redis, USER_REGISTERED_CHANNEL, [tooLong.id])).toBe(1);
  await arrived(tooLong.data.userId);
  expect(await patientsOf(tooLong.data.userId)).toBe(1);
  expect((await listDeadLetters(redis, USER_REGISTERED_CHANNEL)).some((l) => l.eventId === tooLong.id)).toBe(false);
});

it('waits out a database that refuses writes (read-only, full), however many deliveries that takes, and dead-letters nothing', async () => {
  // PostgreSQL read-only (a replica promoted late, a full disk set read-only): reads work, every write fails.
  const url = system.databases.patients;
  await queryPostgres(url, `create or replace function read_only() returns trigger language plpgsql as $$ begin raise exception 'cannot execute INSERT in a read-only transaction' using errcode = '25006'; end $$`);
  await queryPostgres(url, 'create trigger read_only before insert on processed_events for each statement execute function read_only()');
  const waiting = event();
  try {
    await publish(waiting);
    // Retries every 10 to 160 ms: far more than EVENTS_MAX_DELIVERIES (5) while the writes fail.
    await new Promise((done) => setTimeout(done, 1500));
    expect(await patientsOf(waiting.data.userId)).toBe(0);
    expect((await listDeadLetters(redis, USER_REGISTERED_CHANNEL)).some((l) => l.eventId === waiting.id)).toBe(false);
  } finally {
    await queryPostgres(url, 'drop trigger read_only on processed_events');
    await queryPostgres(url, 'drop function read_only()');
  }
  await arrived(waiting.data.userId);
  expect(await patientsOf(waiting.data.userId)).toBe(1);
  expect((await listDeadLetters(redis, USER_REGISTERED_CHANNEL)).some((l) => l.eventId === waiting.id)).toBe(false);
});

it('creates one patient when the same event id arrives four times', async () => {
  const twice = event();
  await publish(twice);
  await publish(twice);
  await Promise.all([publish(twice), publish(twice)]);
  await arrived(twice.data.userId);
  // An event published after the repeats: once it is handled, so are they.
  const sentinel = event();
  await publish(sentinel);
  await arrived(sentinel.data.userId);
  expect(await patientsOf(twice.data.userId)).toBe(1);
  expect(live.results.filter((result) => result.data?.patientCreated.userId === twice.data.userId)).toHaveLength(1);
});

it('creates no patient for Doctor, Nurse or Admin', async () => {
  const staff = (['Doctor', 'Nurse', 'Admin'] as const).map((role) => event(role));
  for (const body of staff) await publish(body);
  const sentinel = event();
  await publish(sentinel);
  await arrived(sentinel.data.userId);
  for (const body of staff) expect(await patientsOf(body.data.userId)).toBe(0);
});

/** Appends bodies in one MULTI, so the consumer reads them as one batch (a backlog). */
async function appendAtOnce(bodies: { id?: string; body: string }[]): Promise<void> {
  const multi = redis.multi();
  for (const { id, body } of bodies) multi.xadd(USER_REGISTERED_CHANNEL, '*', ...(id ? ['id', id] : []), 'body', body);
  await multi.exec();
}
const entry = (e: { id: string }) => ({ id: e.id, body: JSON.stringify(e) });

it('applies a backlog read at once exactly once: a repeated event, two events for one user, a Doctor', async () => {
  const backlog = Array.from({ length: 30 }, () => event());
  const sameUser = { ...event(), data: { ...backlog[0]!.data } };
  const doctor = event('Doctor');
  await appendAtOnce([...backlog, backlog[7]!, sameUser, doctor].map(entry));
  await eventually(async () => (await groupStats(redis, USER_REGISTERED_CHANNEL, 'patients')).pending === 0 && (await patientsOf(backlog[29]!.data.userId)) === 1 ? true : undefined, 15_000, 'the backlog applied');
  for (const e of backlog) expect(await patientsOf(e.data.userId)).toBe(1);
  expect(await patientsOf(doctor.data.userId)).toBe(0);
  const [audit] = await queryPostgres<{ count: string }>(system.databases.patients, "select count(*) from audit_log where action = 'create' and event_id = any($1)", [[...backlog, sameUser].map((e) => e.id)]);
  expect(Number(audit!.count)).toBe(30);
  // Every new patient is announced once.
  for (const e of backlog) await arrived(e.data.userId);
  const announced = live.results.filter((result) => backlog.some((e) => e.data.userId === result.data?.patientCreated.userId));
  expect(announced).toHaveLength(30);
  expect(await groupStats(redis, USER_REGISTERED_CHANNEL, 'patients')).toMatchObject({ lag: 0, pending: 0 });
});

it('dead-letters a poison event in a backlog and applies the rest of it', async () => {
  const before = (await listDeadLetters(redis, USER_REGISTERED_CHANNEL)).length;
  const backlog = Array.from({ length: 10 }, () => event());
  await appendAtOnce([...backlog.slice(0, 5).map(entry), { body: 'not json {' }, ...backlog.slice(5).map(entry)]);
  for (const e of backlog) await arrived(e.data.userId);
  for (const e of backlog) expect(await patientsOf(e.data.userId)).toBe(1);
  const letters = await listDeadLetters(redis, USER_REGISTERED_CHANNEL);
  expect(letters).toHaveLength(before + 1);
  expect(letters.at(-1)!.reason).toMatch(/not JSON/);
});

it('gives each subscriber the shape it asked for when subscribers share an execution', async () => {
  const other = wsClient(system.patientsUrl, { authorization: `Bearer ${system.staffToken}` });
  try {
    const same = collect(other, PATIENT_CREATED);
    const narrow = collect(other, 'subscription { patientCreated { userId firstName } }');
    const renamed = collect(other, 'subscription { patientCreated { who: userId } }');
    await eventually(async () => ((await redis.call('pubsub', 'numsub', 'patients:patientcreated')) as [string, number])[1] >= 1 ? true : undefined);
    // The three are live once a first event reaches them all.
    let probe = event();
    for (let tries = 0; tries < 20; tries++) {
      await publish(probe);
      const reached = await Promise.race([
        Promise.all([same, narrow].map((c) => c.next((r) => r.data?.patientCreated.userId === probe.data.userId))).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      if (reached) break;
      probe = event();
    }
    const e = event();
    await publish(e);
    const [a, b, c] = await Promise.all([
      same.next((r) => r.data?.patientCreated.userId === e.data.userId),
      narrow.next((r) => r.data?.patientCreated.userId === e.data.userId),
      renamed.next((r) => r.data?.patientCreated.who === e.data.userId),
    ]);
    expect(a.data!.patientCreated).toEqual({ id: expect.any(String), userId: e.data.userId, email: e.data.email });
    expect(b.data!.patientCreated).toEqual({ userId: e.data.userId, firstName: 'Event' });
    expect(c.data!.patientCreated).toEqual({ who: e.data.userId });
    const mine = await arrived(e.data.userId);
    expect(mine.data!.patientCreated).toEqual(a.data!.patientCreated);
  } finally {
    await other.dispose();
  }
});

it('appends the contract body to the stream and announces it on the channel, once, when a user registers', async () => {
  const listener = new RedisClient(server.url);
  try {
    const messages: string[] = [];
    const received = new Promise<string>((resolve) =>
      listener.on('message', (_channel, message: string) => {
        messages.push(message);
        resolve(message);
      }),
    );
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
        // The W3C trace context of the registration request, continued by the consumers.
        metadata: { traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/) },
      },
    });
    const entries = await redis.xrevrange(USER_REGISTERED_CHANNEL, '+', '-', 'COUNT', 1);
    expect(entries[0][1]).toEqual(['id', body.id, 'type', 'UserRegistered', 'body', JSON.stringify(body)]);
    // identity marks it published, with the run of Redis that took it, before its relay's grace runs out:
    // the relay never publishes it a second time.
    const runId = /^run_id:(\w+)/m.exec(await redis.info('server'))![1];
    const published = async () => (await queryPostgres<{ published_to: string | null }>(system.databases.identity, 'select published_to from outbox where id = $1 and published_at is not null', [body.id]))[0];
    await eventually(async () => (await published()) ?? undefined, 2_000, 'the event to be marked published');
    expect(await published()).toEqual({ published_to: runId });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(messages.filter((message) => JSON.parse(message).id === body.id)).toHaveLength(1);
  } finally {
    listener.disconnect();
  }
});

it('tells the time before which every group has acknowledged every entry of a stream', async () => {
  const stream = `test:consumed:${randomUUID()}`;
  try {
    for (const id of ['1000-0', '2000-0', '3000-0']) await redis.xadd(stream, id, 'body', id);
    expect(await consumedBefore(redis, stream)).toBeNull(); // no group reads it
    await redis.xgroup('CREATE', stream, 'a', '0');
    await redis.xgroup('CREATE', stream, 'b', '0');
    // a: all three delivered, the first two acknowledged; b: one delivered and acknowledged.
    await redis.xreadgroup('GROUP', 'a', 'c', 'COUNT', 3, 'STREAMS', stream, '>');
    await redis.xack(stream, 'a', '1000-0', '2000-0');
    await redis.xreadgroup('GROUP', 'b', 'c', 'COUNT', 1, 'STREAMS', stream, '>');
    await redis.xack(stream, 'b', '1000-0');
    expect(await consumedBefore(redis, stream)).toBe(2000); // b has not been delivered 2000-0 yet
    await redis.xreadgroup('GROUP', 'b', 'c', 'COUNT', 2, 'STREAMS', stream, '>');
    await redis.xack(stream, 'b', '2000-0', '3000-0');
    expect(await consumedBefore(redis, stream)).toBe(3000); // a still has 3000-0 pending
    await redis.xack(stream, 'a', '3000-0');
    const [seconds] = await redis.time();
    expect(await consumedBefore(redis, stream)).toBeGreaterThanOrEqual(Number(seconds) * 1000); // all acknowledged: Redis's time now
  } finally {
    await redis.del(stream);
  }
});
