/**
 * What a failing database leaves in the logs and the dead letters, on PostgreSQL. Its driver writes the
 * failed statement, values and all, into the error's message, and PostgreSQL the offending key into its
 * `detail`: emails, names and password hashes must not follow the error into a log line or a dead letter's
 * reason, while the kind of failure (its SQLSTATE, the constraint) stays readable.
 */
import type { Redis } from 'ioredis';
import { USER_REGISTERED_CHANNEL, createLogger, listDeadLetters } from '@phos/shared';
import { queryPostgres } from './support/databases';
import { REGISTER, codes, gql, registration } from './support/graphql';
import { eventually, redisClient } from './support/redis';
import { startSystem } from './support/system';
import type { TestSystem } from './support/system';

type LogLine = Record<string, unknown> & { service: string; msg: string; err?: { message: string; code?: string } };

/** A trigger that refuses every insert into `table` with `sqlstate`; dropped again by the returned function. */
async function refuseInserts(url: string, table: string, sqlstate: string, message: string): Promise<() => Promise<void>> {
  const name = `refuse_${table}`;
  await queryPostgres(url, `create or replace function ${name}() returns trigger language plpgsql as $$ begin raise exception '${message}' using errcode = '${sqlstate}'; end $$`);
  await queryPostgres(url, `create trigger ${name} before insert on ${table} for each row execute function ${name}()`);
  return async () => {
    await queryPostgres(url, `drop trigger ${name} on ${table}`);
    await queryPostgres(url, `drop function ${name}()`);
  };
}

describe('a failing database leaves no personal data behind', () => {
  let system: TestSystem;
  let redis: Redis;
  const lines: LogLine[] = [];
  const raw: string[] = [];

  beforeAll(async () => {
    system = await startSystem('postgres', { EVENTS_MAX_DELIVERIES: '2', EVENTS_RETRY_BASE_MS: '10' }, {
      logger: (name) =>
        createLogger(name, 'info', {
          write: (line: string) => {
            raw.push(line);
            lines.push(JSON.parse(line) as LogLine);
          },
        }),
    });
    redis = redisClient();
  });
  afterAll(async () => {
    await system?.stop();
    await redis?.quit();
  });

  /** Names and an email no other line of this suite holds. */
  const person = () => {
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    return registration({ email: `private-${tag}@example.org`, firstName: `Zebulon${tag}`, lastName: `Quixote${tag}` });
  };
  const leaks = (text: string, input: ReturnType<typeof person>) => [input.email, input.firstName, input.lastName, '$argon2'].filter((secret) => text.includes(secret));

  test('identity: a registration the database refuses is logged by its SQLSTATE, without the statement or its values', async () => {
    const restore = await refuseInserts(system.databases.identity, 'users', '53100', 'could not extend file: No space left on device');
    const input = person();
    try {
      const response = await gql(system.gatewayUrl, REGISTER, { input });
      expect(codes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
    } finally {
      await restore();
    }
    const line = lines.find((l) => l.service === 'identity' && l.msg === 'Unexpected error while resolving an operation' && l.err?.code === '53100');
    expect(line?.err?.message).toBe('could not extend file: No space left on device');
    expect(leaks(raw.join('\n'), input)).toEqual([]);
  });

  test('patients: an event whose insert fails on every delivery is dead-lettered with a reason that holds no personal data', async () => {
    const restore = await refuseInserts(system.databases.patients, 'patients', '22001', 'value too long for type character varying(254)');
    const input = person();
    try {
      const response = await gql(system.gatewayUrl, REGISTER, { input });
      expect(response.errors).toBeUndefined();
      const userId = response.data.register.user.id as string;
      // The suites' Redis keeps the dead letters of earlier runs: the newest come last.
      const letter = await eventually(async () => (await listDeadLetters(redis, USER_REGISTERED_CHANNEL, 100_000)).find((l) => l.body.includes(userId)), 15_000, 'the dead letter');
      expect(letter.reason).toBe('failed 2 deliveries: value too long for type character varying(254)');
      expect(lines.some((l) => l.service === 'patients' && l.msg === 'Event handling failed; retrying' && l.err?.code === '22001')).toBe(true);
    } finally {
      await restore();
    }
    expect(leaks(raw.join('\n'), input)).toEqual([]);
  });
});
