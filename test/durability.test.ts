/**
 * No registration is ever lost or doubled: the fault scenarios, with identity and patients as child
 * processes on real PostgreSQL, each on a Redis of its own. Every scenario ends with the same audit: every
 * registered Patient user has exactly one patient, no patient lacks a user, nothing is pending, nothing was
 * dead-lettered.
 */
import { Redis } from 'ioredis';
import { USER_REGISTERED_CHANNEL, groupStats } from '@phos/shared';
import { createDatabases, queryPostgres, POSTGRES_URL } from './support/databases';
import type { TestDatabases } from './support/databases';
import { REGISTER, collect, gql, registration, wsClient } from './support/graphql';
import { childService, ownRedis, ROOT } from './support/processes';
import type { ChildService, OwnRedis } from './support/processes';
import { eventually, waitForSubscribers } from './support/redis';
import { TEST_ADMIN, TEST_PRIVATE_KEY, UNLIMITED, staffTokens } from './support/system';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

interface Fixture {
  redis: OwnRedis;
  client: Redis;
  databases: TestDatabases;
  env: NodeJS.ProcessEnv;
  identity: ChildService;
  patients: ChildService;
  cleanup(): Promise<void>;
}

async function fixture(options: { appendonly?: boolean } = {}): Promise<Fixture> {
  const redis = await ownRedis(options);
  const databases = await createDatabases('postgres');
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_CHILD_LOG_LEVEL ?? 'info',
    REDIS_URL: redis.url,
    JWT_PRIVATE_KEY: TEST_PRIVATE_KEY,
    IDENTITY_DATABASE_URL: databases.identity,
    PATIENTS_DATABASE_URL: databases.patients,
    EVENTS_CLAIM_IDLE_MS: '1000',
    EVENTS_RETRY_BASE_MS: '20',
    OUTBOX_POLL_INTERVAL_MS: '200',
    BOOTSTRAP_ADMIN_EMAIL: TEST_ADMIN.email,
    BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN.password,
    ...UNLIMITED,
  };
  const identity = await childService('subgraphs/identity', 'IDENTITY_PORT', env);
  const patients = await childService('subgraphs/patients', 'PATIENTS_PORT', { ...env, IDENTITY_JWKS_URL: `http://127.0.0.1:${identity.port}/.well-known/jwks.json` });
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return {
    redis,
    client,
    databases,
    env,
    identity,
    patients,
    async cleanup() {
      client.disconnect();
      await Promise.all([identity.stop(), patients.stop()]);
      await redis.remove();
      await databases.drop();
    },
  };
}

/** Registers `count` patients straight at identity, `concurrency` at a time; returns the user ids it got. */
async function register(url: string, count: number, concurrency = 8, onProgress?: (done: number) => Promise<void> | void): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      for (let attempt = 1; ; attempt += 1) {
        const input = registration();
        try {
          const response = await gql(url, REGISTER, { input });
          if (response.errors) throw new Error(JSON.stringify(response.errors));
          ids.push(response.data.register.user.id);
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await onProgress?.(ids.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

/** Waits until every Patient user has its patient and the group has nothing left, then audits. */
async function audit(f: Fixture, timeoutMs = 45_000): Promise<void> {
  const patientUsers = async () => (await queryPostgres<{ id: string }>(f.databases.identity, "select id from users where role = 'PATIENT'")).map((row) => row.id);
  const patientRows = async () => (await queryPostgres<{ user_id: string }>(f.databases.patients, 'select user_id from patients')).map((row) => row.user_id);
  let last = '';
  await eventually(
    async () => {
      const [users, rows, stats] = await Promise.all([patientUsers(), patientRows(), groupStats(f.client, USER_REGISTERED_CHANNEL, 'patients')]);
      const have = new Set(rows);
      const missing = users.filter((id) => !have.has(id)).length;
      last = `${missing} of ${users.length} Patient users without a patient; group ${JSON.stringify(stats)}`;
      return missing === 0 && stats.pending === 0 && stats.lag === 0 ? true : undefined;
    },
    timeoutMs,
    'every Patient user to have a patient and nothing to be pending',
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${last}`);
  });
  const [users, rows] = await Promise.all([patientUsers(), patientRows()]);
  expect(rows.length).toBe(new Set(rows).size); // no duplicates
  expect(new Set(rows)).toEqual(new Set(users)); // one per Patient user, none without a user
  expect(await groupStats(f.client, USER_REGISTERED_CHANNEL, 'patients')).toEqual({ lag: 0, pending: 0, deadLetters: 0 });
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.cleanup();
});
async function setUp(options: { appendonly?: boolean } = {}): Promise<Fixture> {
  const f = await fixture(options);
  fixtures.push(f);
  return f;
}

it('1. patients stopped, 200 registrations, patients started: 200 patients', async () => {
  const f = await setUp();
  await f.identity.start();
  const ids = await register(f.identity.url, 200);
  expect(ids).toHaveLength(200);
  await f.patients.start();
  await audit(f);
});

it('2. 1,000 registrations while patients is SIGKILLed and restarted 5 times: 1,000 patients, no duplicates', async () => {
  const f = await setUp();
  await Promise.all([f.identity.start(), f.patients.start()]);
  let kills = 0;
  let restarting: Promise<void> = Promise.resolve();
  await register(f.identity.url, 1000, 8, (done) => {
    if (kills < 5 && done >= (kills + 1) * 160) {
      kills += 1;
      restarting = restarting.then(async () => {
        await f.patients.kill();
        await f.patients.start();
      });
    }
  });
  await restarting;
  expect(kills).toBe(5);
  await audit(f);
});

it('3. identity SIGKILLed between storing the user and publishing: after restart the user gets a patient', async () => {
  const f = await setUp();
  await f.patients.start();
  // Without the bootstrap ADMIN, whose creation at start-up would trip the switch first.
  await f.identity.start({ FAULT_KILL_BEFORE_PUBLISH: '1', BOOTSTRAP_ADMIN_EMAIL: '', BOOTSTRAP_ADMIN_PASSWORD: '' });
  const input = registration();
  await expect(gql(f.identity.url, REGISTER, { input })).rejects.toThrow();
  await eventually(async () => (f.identity.running() ? undefined : true), 10_000, 'identity to die');
  const [stored] = await queryPostgres<{ id: string }>(f.databases.identity, 'select id from users where email_key = $1', [input.email.toLowerCase()]);
  expect(stored).toBeDefined();
  expect(await queryPostgres(f.databases.patients, 'select 1 from patients where user_id = $1', [stored.id])).toHaveLength(0);
  await f.identity.start();
  await audit(f);
  expect(await queryPostgres(f.databases.patients, 'select 1 from patients where user_id = $1', [stored.id])).toHaveLength(1);
});

it('4. Redis with AOF SIGKILLed and restarted under load: nothing lost, with no replay by hand', async () => {
  const f = await setUp({ appendonly: true });
  await Promise.all([f.identity.start(), f.patients.start()]);
  let killedAt: Date | undefined;
  let outage: Promise<void> = Promise.resolve();
  await register(f.identity.url, 300, 8, (done) => {
    if (!killedAt && done >= 100) {
      killedAt = new Date();
      outage = (async () => {
        await f.redis.kill();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await f.redis.start();
      })();
    }
  });
  await outage;
  // appendfsync everysec may lose the last second of writes: identity publishes again what the new run of Redis
  // may not have, and patients skips what it already applied.
  await audit(f);
});

it('5. two patients replicas share the group: every event handled once, both replicas\' subscribers see every patient', async () => {
  const f = await setUp();
  const second = await childService('subgraphs/patients', 'PATIENTS_PORT', { ...f.env, IDENTITY_JWKS_URL: `http://127.0.0.1:${f.identity.port}/.well-known/jwks.json` });
  fixtures.push({ ...f, cleanup: () => second.stop() } as Fixture);
  await Promise.all([f.identity.start(), f.patients.start(), second.start()]);
  const { staffToken } = await staffTokens(f.identity.url);
  const auth = { authorization: `Bearer ${staffToken}` };
  const clients = [wsClient(f.patients.url, auth), wsClient(second.url, auth)];
  try {
    const lives = clients.map((client) => collect(client, 'subscription { patientCreated { userId } }'));
    await waitForSubscribers(f.client, 'patients:patientcreated', 2);
    const ids = await register(f.identity.url, 200);
    await audit(f);
    for (const live of lives) {
      await eventually(async () => (live.results.length >= 200 ? true : undefined), 15_000, 'every patientCreated on both replicas');
      expect(new Set(live.results.map((result) => result.data?.patientCreated.userId))).toEqual(new Set(ids));
    }
    const created = (service: ChildService) => (service.output().match(/Successfully created patient record/g) ?? []).length;
    expect(created(f.patients) + created(second)).toBe(200);
    expect(created(f.patients)).toBeGreaterThan(0);
    expect(created(second)).toBeGreaterThan(0);
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
  }
});

it('6. the patients database stopped for 10 seconds under load: no dead letters, every patient created after it returns', async () => {
  const f = await setUp();
  await Promise.all([f.identity.start(), f.patients.start()]);
  const database = new URL(f.databases.patients).pathname.slice(1);
  let outage: Promise<void> = Promise.resolve();
  let started = false;
  await register(f.identity.url, 300, 8, (done) => {
    if (!started && done >= 50) {
      started = true;
      outage = (async () => {
        await queryPostgres(POSTGRES_URL, `alter database ${database} allow_connections false`);
        await queryPostgres(POSTGRES_URL, 'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [database]);
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        await queryPostgres(POSTGRES_URL, `alter database ${database} allow_connections true`);
      })();
    }
  });
  await outage;
  await audit(f);
  expect(f.patients.output()).toMatch(/A dependency is down; retrying the event until it is back/);
});

it('7. Redis down while users register: the registrations commit, and their events go out from the outbox when Redis is back', async () => {
  const f = await setUp();
  await Promise.all([f.identity.start(), f.patients.start()]);
  await register(f.identity.url, 20);
  await f.redis.kill();
  const during = await register(f.identity.url, 20);
  expect(during).toHaveLength(20);
  expect(f.identity.output()).toMatch(/Could not publish an event at once; the outbox relay will/);
  await f.redis.start();
  await audit(f);
});

it('8. Redis without persistence restarted while patients is down: the events it lost are published again, and only those', async () => {
  const f = await setUp();
  await Promise.all([f.identity.start(), f.patients.start()]);
  await register(f.identity.url, 10);
  await audit(f);
  // identity marks them consumed once every group has acknowledged them (and its clock margin has passed).
  const unconsumed = async () => Number((await queryPostgres<{ count: string }>(f.databases.identity, 'select count(*) from outbox where consumed_at is null'))[0].count);
  await eventually(async () => ((await unconsumed()) === 0 ? true : undefined), 20_000, 'the first events to be marked consumed');
  await f.patients.stop();
  await register(f.identity.url, 20);
  const unpublished = async () => Number((await queryPostgres<{ count: string }>(f.databases.identity, 'select count(*) from outbox where published_at is null'))[0].count);
  await eventually(async () => ((await unpublished()) === 0 && (await unconsumed()) === 20 ? true : undefined), 10_000, 'the 20 events to be published and marked');
  // Redis dies with its 20 undelivered events, and comes back empty.
  await f.redis.kill();
  await f.redis.start();
  await eventually(async () => (/publishing them again/.test(f.identity.output()) ? true : undefined), 20_000, 'identity to notice the restart');
  const warning = f.identity
    .output()
    .split('\n')
    .filter((line) => line.includes('publishing them again'))
    .map((line) => JSON.parse(line) as { events: number });
  expect(warning).toEqual([expect.objectContaining({ events: 20 })]);
  await f.patients.start();
  await audit(f);
  // The replay by hand stays available, and applies nothing twice. (identity's own relay may publish some of
  // the 31 rows it unmarks: the two share the work.)
  expect(await runEvents(f.env, ['replay', '--since', new Date(Date.now() - 3_600_000).toISOString()])).toMatch(/Replayed \d+ of 31 event/);
  await audit(f);
  // `events status` shows the outbox empty once identity has seen every group acknowledge what it published.
  await eventually(
    async () => {
      const status = JSON.parse(await runEvents({ ...f.env, LOG_LEVEL: 'silent' }, ['status'])) as { outboxBacklog: number; outboxUnconsumed: number };
      return status.outboxBacklog === 0 && status.outboxUnconsumed === 0 ? true : undefined;
    },
    20_000,
    'events status to show nothing unpublished or unconsumed',
  );
});

/** Runs `npm run events -- …` (the built CLI) with the fixture's configuration. */
function runEvents(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'subgraphs/identity/dist/events.cli.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`events ${args.join(' ')} exited ${code}: ${output}`))));
  });
}
