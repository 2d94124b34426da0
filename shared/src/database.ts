import { MikroORM } from '@mikro-orm/core';
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import type { AbstractSqlDriver, EntityManager } from '@mikro-orm/knex';
import { LibSqlDriver } from '@mikro-orm/libsql';
import { Migrator } from '@mikro-orm/migrations';
import type { Migration } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseConfig } from './config';
import type { Logger } from './logger';
import { StartupError } from './process';

export type { EntityManager };
export type Database = MikroORM<AbstractSqlDriver>;

export interface OpenDatabaseOptions {
  /** Which database: embedded SQLite or PostgreSQL. */
  database: DatabaseConfig;
  /** The service's entities. */
  entities: EntitySchema<any>[];
  /** The service's migrations, oldest first; pending ones are applied before this resolves. */
  migrations: (new (...args: any[]) => Migration)[];
  /** The name the service's variable goes by, for start-up messages (e.g. `PATIENTS_DATABASE_URL`). */
  envName: string;
  logger: Logger;
}

/**
 * Opens a service's database and applies its pending migrations. Throws {@link StartupError} naming the
 * variable to fix when the database cannot be reached.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const { database, entities, migrations, envName, logger } = options;
  const migrationsList: MigrationObject[] = migrations.map((migration) => ({ name: migration.name, class: migration }));
  const common = {
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
    discovery: { warnWhenNoEntities: true },
    // Every request and every event must fork its own EntityManager.
    allowGlobalContext: false,
    debug: false,
    // MikroORM's own messages (the migrator's, mostly) go to the structured log too.
    logger: (message: string) => logger.debug({ component: 'mikro-orm' }, message.replace(/\x1b\[[0-9;]*m/g, '')),
  };
  let orm: Database;
  try {
    if (database.kind === 'postgres') {
      orm = (await MikroORM.init({ ...common, driver: PostgreSqlDriver, clientUrl: database.url, pool: { min: 0, max: 10 } })) as unknown as Database;
    } else {
      mkdirSync(dirname(database.path), { recursive: true });
      orm = (await MikroORM.init({ ...common, driver: LibSqlDriver, dbName: database.path })) as unknown as Database;
    }
    const status = await orm.isConnected();
    if (!status) throw new Error('the database did not answer');
  } catch (error) {
    throw new StartupError(`cannot open the database of ${envName} (${(error as Error).message}). Check ${envName}, or unset it for the embedded SQLite default.`);
  }
  try {
    const applied = await withMigrationLock(orm, () => orm.getMigrator().up());
    if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'Applied database migrations');
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}

/** For `/readyz`: resolves when the database answers a query. */
export async function pingDatabase(orm: Database): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}

/** True when the database is PostgreSQL (row locks with SKIP LOCKED are available), false for SQLite. */
export function isPostgres(orm: Database): boolean {
  return (orm.config.getDriver() as unknown) instanceof PostgreSqlDriver;
}

/**
 * PostgreSQL's SQLSTATE classes and codes that say the database cannot do the work now, whatever the work:
 * connection (08), resources such as a full disk (53), an operator or a timeout (57), the system (58),
 * configuration (F0), a read-only database (25006), lock contention (40001, 40P01, 55P03, 55006), a missing
 * privilege (42501).
 */
const POSTGRES_OUTAGE = /^(?:08|53|57|58|F0)|^(?:25006|40001|40P01|55P03|55006|42501)$/;
/** SQLite's result codes of the same kind: busy or locked, full, I/O, read-only, cannot open, out of memory. */
const SQLITE_OUTAGE = /^SQLITE_(?:BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM|PROTOCOL)/;
/** Node.js's codes for a connection that failed or broke. */
const NETWORK_OUTAGE = /^(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/;

/**
 * True when an error says the database could not do the work now (it is down, full, read-only, locked, out
 * of connections), not that the work itself is wrong: work that met it should wait and try again, not give up.
 * A constraint or a value that does not fit (PostgreSQL's classes 22 and 23) is the work's own fault: false.
 */
export function isDatabaseOutage(error: unknown): boolean {
  const { code, name, message } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string' && (POSTGRES_OUTAGE.test(code) || SQLITE_OUTAGE.test(code) || NETWORK_OUTAGE.test(code))) return true;
  // knex gives up waiting for a pooled connection; pg loses one mid-query.
  return name === 'KnexTimeoutError' || (typeof message === 'string' && /Connection terminated|Timeout acquiring a connection/.test(message));
}

/** An arbitrary, fixed advisory lock key: "phos" in ASCII, for migrations. */
const MIGRATION_LOCK_KEY = 0x70686f73;

/**
 * Runs the migrations under a PostgreSQL advisory lock (held on a session of its own), so replicas starting
 * together migrate one after the other instead of racing to create the same tables. SQLite runs as it is.
 */
async function withMigrationLock<T>(orm: Database, migrate: () => Promise<T>): Promise<T> {
  if (!isPostgres(orm)) return migrate();
  const client = orm.em.getConnection().getKnex().client;
  const connection = (await client.acquireConnection()) as { query(sql: string, params: unknown[]): Promise<unknown> };
  try {
    await connection.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await migrate();
    } finally {
      await connection.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.releaseConnection(connection);
  }
}
