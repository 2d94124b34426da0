import { Writable } from 'node:stream';
import { createLogger, loggableError } from './logger';

/** A PostgreSQL error as MikroORM and knex hand it on: the statement, values written in, ahead of the message. */
function postgresError(): Error {
  const error = Object.assign(
    new Error(`insert into "users" ("email", "first_name", "last_name", "password_hash") values ('ada@example.org', 'Ada', 'Lovelace', '$argon2id$v=19$secret') - duplicate key value violates unique constraint "users_email_key_unique"`),
    { code: '23505', detail: 'Key (email_key)=(ada@example.org) already exists.', constraint: 'users_email_key_unique', table: 'users', schema: 'public', routine: '_bt_check_unique' },
  );
  error.name = 'UniqueConstraintViolationException';
  return error;
}

const PERSONAL = /ada@example\.org|\bAda\b|Lovelace|argon2id/;

describe('loggableError', () => {
  test('a database error keeps its kind and loses the statement, its values and the detail', () => {
    const logged = loggableError(postgresError());
    expect(logged).toEqual({
      type: 'UniqueConstraintViolationException',
      message: 'duplicate key value violates unique constraint "…"',
      code: '23505',
      constraint: 'users_email_key_unique',
      table: 'users',
      stack: expect.stringMatching(/^UniqueConstraintViolationException: duplicate key value violates unique constraint "…"\n\s+at /),
    });
    expect(JSON.stringify(logged)).not.toMatch(PERSONAL);
  });

  test('a statement over several lines (the consumer’s insert), and SQLite’s form', () => {
    const multiline = loggableError({ message: `with input (email) as (values ('ada@example.org'))\n  insert into patients select * from input - value too long for type character varying(254)`, code: '22001' });
    expect(multiline).toEqual({ message: 'value too long for type character varying(254)', code: '22001' });
    const sqlite = loggableError({ message: "insert into `users` (`email`) values ('ada@example.org') - SQLITE_CONSTRAINT_UNIQUE: UNIQUE constraint failed: users.email_key", code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(sqlite.message).toBe('SQLITE_CONSTRAINT_UNIQUE: UNIQUE constraint failed: users.email_key');
    // A value PostgreSQL quotes in its own message.
    expect(loggableError({ message: 'invalid input syntax for type uuid: "ada@example.org"', code: '22P02' }).message).toBe('invalid input syntax for type uuid: "…"');
  });

  test('other errors keep their message, code and where they happened, and nothing else', () => {
    const redis = Object.assign(new Error('ERR wrong number of arguments'), { command: { name: 'xadd', args: ['events', '*', 'body', '{"email":"ada@example.org"}'] } });
    expect(loggableError(redis)).toEqual({ type: 'Error', message: 'ERR wrong number of arguments', stack: expect.stringContaining('at ') });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 6379 });
    expect(loggableError(refused)).toMatchObject({ message: 'connect ECONNREFUSED 127.0.0.1:6379', code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port: 6379 });
    expect(loggableError('a string')).toEqual({ message: 'a string' });
    expect(loggableError({ message: 'plain' })).toEqual({ message: 'plain' });
  });

  test('is how the logger writes every err', () => {
    const lines: string[] = [];
    const logger = createLogger('test', 'info', new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          lines.push(chunk.toString());
          done();
        },
      }));
    logger.error({ err: postgresError() }, 'Unexpected error');
    logger.warn({ err: { message: postgresError().message } }, 'Retrying');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toMatch(PERSONAL);
      expect(JSON.parse(line).err.message).toBe('duplicate key value violates unique constraint "…"');
    }
  });
});
