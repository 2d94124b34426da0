import { isDatabaseOutage } from './database';

/** An error as the drivers hand it on: a code, and a message with the statement in front. */
const failure = (code: string, message = 'insert into "patients" … - failed') => Object.assign(new Error(message), { code });

describe('isDatabaseOutage', () => {
  test.each([
    ['PostgreSQL read-only', '25006'],
    ['PostgreSQL disk full', '53100'],
    ['PostgreSQL too many connections', '53300'],
    ['PostgreSQL shutting down', '57P01'],
    ['PostgreSQL statement timeout', '57014'],
    ['PostgreSQL connection failure', '08006'],
    ['PostgreSQL serialization failure', '40001'],
    ['PostgreSQL deadlock', '40P01'],
    ['PostgreSQL lock not available', '55P03'],
    ['PostgreSQL missing privilege', '42501'],
    ['SQLite busy', 'SQLITE_BUSY'],
    ['SQLite full', 'SQLITE_FULL'],
    ['SQLite read-only', 'SQLITE_READONLY_DBMOVED'],
    ['SQLite I/O', 'SQLITE_IOERR_WRITE'],
    ['a refused connection', 'ECONNREFUSED'],
  ])('%s (%s) is an outage: wait for the database', (_name, code) => {
    expect(isDatabaseOutage(failure(code))).toBe(true);
  });

  test.each([
    ['PostgreSQL value too long', '22001'],
    ['PostgreSQL invalid text', '22P02'],
    ['PostgreSQL not-null violation', '23502'],
    ['PostgreSQL unique violation', '23505'],
    ['PostgreSQL undefined column', '42703'],
    ['SQLite constraint', 'SQLITE_CONSTRAINT_NOTNULL'],
  ])("%s (%s) is the work's own failure", (_name, code) => {
    expect(isDatabaseOutage(failure(code))).toBe(false);
  });

  test('knex waiting in vain for a pooled connection, and pg losing one mid-query, are outages', () => {
    expect(isDatabaseOutage(Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }))).toBe(true);
    expect(isDatabaseOutage(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseOutage(new Error('something else'))).toBe(false);
    expect(isDatabaseOutage(undefined)).toBe(false);
  });
});
