import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createLogger } from '@phos/shared';
import type { Database } from '@phos/shared/database';
import { openPatientsDatabase as openDatabaseOfPatients } from '../../subgraphs/patients/src/database';

export type DatabaseKind = 'postgres' | 'sqlite';

/** The PostgreSQL server the suites use; `TEST_POSTGRES_URL` overrides it. */
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabases {
  identity: string;
  patients: string;
  drop(): Promise<void>;
}

async function admin<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Two empty databases, one per service: fresh PostgreSQL databases, or SQLite files in a temporary folder. */
export async function createDatabases(kind: DatabaseKind): Promise<TestDatabases> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'phos-test-'));
    return {
      identity: join(dir, 'identity.sqlite'),
      patients: join(dir, 'patients.sqlite'),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const suffix = randomBytes(6).toString('hex');
  const names = { identity: `phos_test_${suffix}_identity`, patients: `phos_test_${suffix}_patients` };
  await admin(async (client) => {
    for (const name of Object.values(names)) await client.query(`CREATE DATABASE ${name}`);
  });
  const url = (name: string) => {
    const parsed = new URL(POSTGRES_URL);
    parsed.pathname = `/${name}`;
    return parsed.toString();
  };
  return {
    identity: url(names.identity),
    patients: url(names.patients),
    drop: () =>
      admin(async (client) => {
        for (const name of Object.values(names)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

/** Runs one query against a test database (PostgreSQL URL only). */
export async function queryPostgres<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The patients database of `databases`, opened and migrated as the patients subgraph does it. */
export function openPatientsDatabase(kind: DatabaseKind, databases: TestDatabases): Promise<Database> {
  const database = kind === 'postgres' ? { kind, url: databases.patients } : { kind, path: databases.patients };
  return openDatabaseOfPatients(database, createLogger('test', 'silent'));
}
