import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@phos/shared/testing';

export const ROOT = resolve(__dirname, '..', '..');

export { freePort };

export interface OwnRedis {
  url: string;
  port: number;
  /** Starts (or starts again) the server on the same port and data folder. */
  start(): Promise<void>;
  /** SIGKILLs the server, as a crash would. */
  kill(): Promise<void>;
  /** Stops it and removes its data folder. */
  remove(): Promise<void>;
}

/** A redis-server owned by one test, on its own port and data folder, that the test may kill and restart. */
export async function ownRedis(options: { appendonly?: boolean } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'phos-redis-'));
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no'];
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((ready, fail) => {
        child!.once('exit', (code) => fail(new Error(`redis-server exited with ${code}`)));
        child!.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('Ready to accept connections')) ready();
        });
      });
      child.stdout!.resume();
    },
    async kill() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((done) => child!.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    },
    async remove() {
      await own.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a built service (`subgraphs/identity`, `gateway`, …) as a child process with `env` over the parent's. */
export function runBuilt(dir: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, [join(ROOT, dir, 'dist', 'index.js')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return { child, output: () => output, exited };
}

export interface ChildService {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Starts the process (again) on the same port, and waits until `/readyz` answers 200. */
  start(extraEnv?: NodeJS.ProcessEnv): Promise<void>;
  /** SIGKILLs it, as a crash would. */
  kill(): Promise<void>;
  /** SIGTERMs it and waits for it to exit. */
  stop(): Promise<void>;
  /** Everything it printed, over all its runs. */
  output(): string;
  running(): boolean;
}

/** A built service run as a child process on a fixed free port, for tests that kill and restart it. */
export async function childService(dir: string, portEnv: string, env: NodeJS.ProcessEnv): Promise<ChildService> {
  const port = await freePort();
  let current: ServiceProcess | undefined;
  let log = '';
  const service: ChildService = {
    name: dir,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    async start(extraEnv = {}) {
      const run = runBuilt(dir, { ...env, ...extraEnv, [portEnv]: String(port) });
      current = run;
      run.exited.then(() => (log += run.output()));
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (run.child.exitCode !== null || run.child.signalCode !== null) throw new Error(`${dir} exited during start: ${run.output()}`);
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.ok, () => false);
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`${dir} not ready in 30 s: ${run.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async kill() {
      if (!service.running()) return;
      current!.child.kill('SIGKILL');
      await current!.exited;
    },
    async stop() {
      if (!service.running()) return;
      current!.child.kill('SIGTERM');
      // A service must stop cleanly (exit 0); one still running after 25 s is killed, and the test fails on it.
      const timer = setTimeout(() => current!.child.kill('SIGKILL'), 25_000);
      const { code, signal } = await current!.exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`${dir} did not stop cleanly on SIGTERM (${signal ?? `exit ${code}`}); its last lines:\n${log.split('\n').slice(-15).join('\n')}`);
    },
    output: () => log + (service.running() ? current!.output() : ''),
    running: () => current !== undefined && current.child.exitCode === null && current.child.signalCode === null,
  };
  return service;
}
