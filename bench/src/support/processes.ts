import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The project root (bench/dist/support → ../../..). */
export const ROOT = resolve(__dirname, '..', '..', '..');
const PROBE = join(__dirname, 'probe.js');

export interface ProcessStats {
  /** User + system CPU time of the whole process since it started, in microseconds. */
  cpuUs: number;
  /** The same for its main thread (the event loop) alone; undefined off Linux. */
  mainCpuUs?: number;
  /** Minor page faults of the whole process since it started: memory the kernel had to map in. */
  minorFaults: number;
  rss: number;
  heapUsed: number;
  external: number;
}

/** A child process the bench measures through the preloaded probe. */
export interface ProbedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** CPU and memory of the process; `gc` collects garbage first. */
  stats(gc?: boolean): Promise<ProcessStats>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after 15 s. */
  stop(): Promise<void>;
}

let nextRequestId = 1;

/**
 * Runs `script` with node, the probe preloaded and `--expose-gc`, its output appended to `logFile` (so the
 * bench spends no CPU on it).
 */
export function spawnProbed(name: string, script: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = []): ProbedProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--expose-gc', '--require', PROBE, ...nodeArgs, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  child.on('error', (error) => console.error(`bench: ${name}: ${error.message}`));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const waiting = new Map<number, (stats: ProcessStats) => void>();
  child.on('message', (message: { type?: string; id?: number } & ProcessStats) => {
    if (message?.type === 'stats' && message.id !== undefined) {
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    }
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid!,
    child,
    running,
    stats(gc = false) {
      if (!running()) return Promise.reject(new Error(`${name} is not running (see ${logFile})`));
      const id = nextRequestId++;
      return new Promise<ProcessStats>((resolveStats, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name} did not answer the stats probe within 10 s`));
        }, 10_000);
        waiting.set(id, (stats) => {
          clearTimeout(timer);
          resolveStats(stats);
        });
        child.send({ type: 'stats', id, gc });
      });
    },
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ServiceProcess extends ProbedProcess {
  readonly port: number;
  readonly url: string;
}

/**
 * Runs a built service (`gateway`, `subgraphs/identity`, …) and waits until its `/readyz` answers 200.
 * `extraNodeArgs` go to node before the service's script (a bench-only `--require`).
 */
export async function startService(dir: string, port: number, env: NodeJS.ProcessEnv, logFile: string, extraNodeArgs: string[] = []): Promise<ServiceProcess> {
  // BENCH_CPU_PROF=gateway,patients,… writes a V8 CPU profile of those services (next to their logs) when they stop.
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').some((name) => name && dir.endsWith(name));
  const nodeArgs = [...extraNodeArgs, ...(profiled ? ['--cpu-prof', '--cpu-prof-dir', join(logFile, '..', 'profiles')] : [])];
  const probed = spawnProbed(dir, join(ROOT, dir, 'dist', 'index.js'), env, logFile, nodeArgs);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!probed.running()) throw new Error(`${dir} exited during start; see ${logFile}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await probed.stop();
      throw new Error(`${dir} not ready within 60 s; see ${logFile}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return Object.assign(probed, { port, url: `http://127.0.0.1:${port}/graphql` });
}

/** Runs a bench-owned raw server (bench/dist/raw/…) and waits for its `{ type: 'ready' }` message. */
export async function startRaw(name: string, script: string, env: NodeJS.ProcessEnv, logFile: string): Promise<ProbedProcess> {
  const probed = spawnProbed(name, join(__dirname, '..', 'raw', script), env, logFile);
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} not ready within 30 s; see ${logFile}`)), 30_000);
    probed.child.on('message', (message: { type?: string }) => {
      if (message?.type === 'ready') {
        clearTimeout(timer);
        ready();
      }
    });
    probed.child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${name} exited with ${code} during start; see ${logFile}`));
    });
  });
  return probed;
}
