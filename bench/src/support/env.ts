import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '@phos/shared/testing';

/** The PostgreSQL server the bench creates its databases on; `BENCH_POSTGRES_URL` overrides it. */
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export { freePort };

export interface OwnRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A redis-server of the bench's own (no persistence), so runs never touch the Redis the test suites share. */
export async function startOwnRedis(dir: string): Promise<OwnRedis> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  // Should the bench die without cleaning up, its Redis goes with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await new Promise<void>((ready, fail) => {
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code}; is redis-server on the PATH?`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) ready();
    });
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
    },
  };
}

export interface BenchDatabases {
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

/** Two fresh PostgreSQL databases (`bench_<random>_identity`, `…_patients`), dropped by `drop()`. */
export async function createDatabases(): Promise<BenchDatabases> {
  const suffix = randomBytes(5).toString('hex');
  const names = [`bench_${suffix}_identity`, `bench_${suffix}_patients`];
  await admin(async (client) => {
    for (const name of names) await client.query(`CREATE DATABASE ${name}`);
  });
  const url = (name: string) => {
    const parsed = new URL(POSTGRES_URL);
    parsed.pathname = `/${name}`;
    return parsed.toString();
  };
  return {
    identity: url(names[0]),
    patients: url(names[1]),
    drop: () =>
      admin(async (client) => {
        for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

export function tmpDirOf(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
