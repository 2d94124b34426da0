/**
 * `npm start`: runs both subgraphs, then the gateway once they are ready, with prefixed, readable logs.
 * Ctrl-C (or SIGTERM) stops all three; if one exits on its own, the others are stopped too.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError, loadConfig } from '@phos/shared';
import type { Config } from '@phos/shared';

const root = resolve(__dirname, '..', '..');
const colors: Record<string, string> = { identity: '\x1b[36m', patients: '\x1b[35m', gateway: '\x1b[33m' };
const useColor = process.stdout.isTTY;

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`start: ${error.message}\n`);
  process.exit(1);
}

const services = [
  { name: 'identity', dir: 'subgraphs/identity', port: config.identity.port },
  { name: 'patients', dir: 'subgraphs/patients', port: config.patients.port },
  { name: 'gateway', dir: 'gateway', port: config.gateway.port },
];
const children = new Map<string, ChildProcess>();
let stopping = false;

/** One JSON log line as `level message key=value …`; anything else as it is. */
function readable(line: string): string {
  try {
    const { level, msg, time: _time, service: _service, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    return `${String(level).padEnd(5)} ${String(msg).replace(/\s*\n\s*/g, ' ')}${fields ? `  ${fields}` : ''}`;
  } catch {
    return line;
  }
}

function run(name: string, dir: string): ChildProcess {
  const child = spawn(process.execPath, [join(root, dir, 'dist', 'index.js')], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = useColor ? `${colors[name]}${name.padEnd(8)}\x1b[0m │ ` : `${name.padEnd(8)} │ `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => process.stdout.write(`${prefix}${readable(line)}\n`));
  }
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      process.stdout.write(`${prefix}exited (${signal ?? `code ${code}`}); stopping the others\n`);
      stop(1);
    } else if (children.size === 0) {
      process.exit(exitCode);
    }
  });
  children.set(name, child);
  return child;
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || stopping) throw new Error('exited');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

let exitCode = 0;
function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  if (children.size === 0) process.exit(code);
  for (const child of children.values()) child.kill('SIGTERM');
  // Whatever has not stopped in 15 s is killed.
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
  }, 15_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

async function main(): Promise<void> {
  const subgraphs = services.slice(0, 2).map((service) => ({ service, child: run(service.name, service.dir) }));
  await Promise.all(subgraphs.map(({ service, child }) => waitReady(service.port, child)));
  const gateway = services[2];
  await waitReady(gateway.port, run(gateway.name, gateway.dir));
  const base = `http://localhost:${gateway.port}`;
  process.stdout.write(
    `\nPhos is ready.\n  GraphQL (HTTP and WebSocket): ${base}/graphql\n` +
      (config.isProduction ? '' : `  Apollo Sandbox:               ${base}/\n`) +
      `  Live page (staff):            ${base}/live\n` +
      `  Metrics (Prometheus):         ${services.map((service) => `http://localhost:${service.port}/metrics`).join('  ')}\n` +
      `  Stop with Ctrl-C.\n\n`,
  );
}

main().catch(() => stop(1));
