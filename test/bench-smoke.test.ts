/**
 * The bench is not a test: nothing here depends on a timing. But it is code, and code that runs only when
 * someone measures rots between measurements. `npm run bench -- --smoke` runs every scenario end to end in
 * about half a minute, on sizes too small to mean anything; this checks that it finished, and that each
 * scenario reported every figure it measures, each a number from at least one round. Needs the bench built
 * (`npm test` builds it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/processes';

const SCENARIOS = ['query-path', 'join', 'register', 'pipeline', 'live-latency', 'fan-out', 'idle-memory'];

interface Figure {
  name: string;
  system: number;
  baseline: number;
  rounds: { system: number; baseline: number }[];
}

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'dist', 'run.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => done({ code, output }));
  });
}

describe('the bench', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'phos-bench-smoke-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('runs every scenario end to end (--smoke), into the folder it is given', async () => {
    const { code, output } = await runBench(['--smoke', '--out', out]);
    if (code !== 0) throw new Error(`the bench exited with ${code}:\n${output}`);
    for (const scenario of SCENARIOS) {
      const result = JSON.parse(readFileSync(join(out, `${scenario}.json`), 'utf8')) as { mode: string; error?: string; figures: Figure[] };
      expect({ scenario, error: result.error, mode: result.mode }).toEqual({ scenario, error: undefined, mode: 'smoke' });
      expect(result.figures.length).toBeGreaterThan(0);
      for (const figure of result.figures) {
        const numbers = [figure.system, figure.baseline, ...figure.rounds.flatMap((round) => [round.system, round.baseline])];
        expect({ scenario, figure: figure.name, rounds: figure.rounds.length > 0, finite: numbers.every(Number.isFinite) }).toEqual({ scenario, figure: figure.name, rounds: true, finite: true });
      }
    }
    const table = readFileSync(join(out, 'RESULTS.md'), 'utf8');
    SCENARIOS.forEach((_, i) => expect(table).toMatch(new RegExp(`^\\| ${i + 1} \\|.*\\| smoke \\|`, 'm')));
  }, 300_000);

  test('refuses an unknown option, --quick with --smoke, and an option without its value, without starting anything', async () => {
    for (const args of [['--fast'], ['--quick', '--smoke'], ['--out'], ['--smoke', '--only']]) {
      const { code, output } = await runBench(args);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(output).toContain('Usage: npm run bench --');
    }
  });
});
