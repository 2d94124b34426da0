import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { COMMITTED_OUTPUT, writeMarkdown, writeResult } from './support/report';
import type { BenchOutput, ScenarioResult } from './support/report';
import { startBenchSystem } from './support/system';
import type { BenchMode } from './support/system';
import type { Scenario } from './scenarios/scenario';
import { join as joinScenario, queryPath } from './scenarios/query-path';
import { register } from './scenarios/register';
import { pipeline } from './scenarios/pipeline';
import { liveLatency } from './scenarios/live-latency';
import { fanOut } from './scenarios/fan-out';
import { idleMemory } from './scenarios/idle-memory';

const SCENARIOS: Scenario[] = [queryPath, joinScenario, register, pipeline, liveLatency, fanOut, idleMemory];

const USAGE = 'Usage: npm run bench -- [--quick | --smoke] [--only query-path,join,...] [--out <folder>]';

/** The value of `--name value` or `--name=value`, and the indexes of argv it took. */
function option(argv: string[], name: string): { value?: string; taken: number[] } {
  const index = argv.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index < 0) return { taken: [] };
  return argv[index].includes('=') ? { value: argv[index].slice(name.length + 1), taken: [index] } : { value: argv[index + 1], taken: [index, index + 1] };
}

function parseArgs(argv: string[]) {
  const flags = ['--quick', '--smoke'].filter((flag) => argv.includes(flag));
  if (flags.length > 1) {
    console.error(`bench: --quick and --smoke exclude each other. ${USAGE}`);
    process.exit(2);
  }
  const mode: BenchMode = flags[0] === '--quick' ? 'quick' : flags[0] === '--smoke' ? 'smoke' : 'full';
  const only = option(argv, '--only');
  const out = option(argv, '--out');
  const unknown = argv.filter((arg, i) => !flags.includes(arg) && ![...only.taken, ...out.taken].includes(i));
  const missing = [only, out].some((given) => given.taken.length > 0 && !given.value);
  if (unknown.length || missing) {
    console.error(`bench: ${unknown.length ? `unknown option ${unknown.join(' ')}` : '--only and --out each need a value'}. ${USAGE}`);
    process.exit(2);
  }
  // A smoke run's figures mean nothing: unless told where, they go to a folder of their own, never over the committed results.
  const output: BenchOutput = out.value
    ? { resultsDir: resolve(out.value), markdownPath: join(resolve(out.value), 'RESULTS.md') }
    : mode === 'smoke'
      ? { resultsDir: join(COMMITTED_OUTPUT.resultsDir, 'tmp', 'smoke'), markdownPath: join(COMMITTED_OUTPUT.resultsDir, 'tmp', 'smoke', 'RESULTS.md') }
      : COMMITTED_OUTPUT;
  return { mode, only: only.value?.split(',').filter(Boolean), output };
}

async function main() {
  const { mode, only, output } = parseArgs(process.argv.slice(2));
  const selected = SCENARIOS.filter((scenario, i) => !only || only.includes(scenario.id) || only.includes(String(i + 1)));
  if (selected.length === 0) {
    console.error(`bench: no scenario matches --only ${only?.join(',')}; scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`);
    process.exit(2);
  }
  const machine = `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const began = Date.now();
  console.log(`bench: ${selected.map((s) => s.id).join(', ')}${mode === 'full' ? '' : ` (--${mode})`} on ${machine}`);
  if (mode === 'smoke') console.log('bench: --smoke checks that every scenario runs end to end; its figures, from sizes far too small, mean nothing');
  // Only the latest run's logs are kept.
  const logs = join(output.resultsDir, 'tmp');
  rmSync(logs, { recursive: true, force: true });
  const context = await startBenchSystem(mode, logs);
  console.log(`bench: system up in ${((Date.now() - began) / 1000).toFixed(1)} s (logs in ${context.tmp})`);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('bench: interrupted; stopping the services and dropping the databases');
    void context.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failed = 0;
  try {
    for (const scenario of selected) {
      const startedAt = new Date();
      const start = Date.now();
      console.log(`bench: ${scenario.id} …`);
      let result: ScenarioResult;
      const base = { scenario: scenario.id, title: scenario.title, system: scenario.system, baseline: scenario.baseline, mode, startedAt: startedAt.toISOString() };
      try {
        const outcome = await scenario.run(context);
        result = { ...base, durationMs: Date.now() - start, ...outcome };
      } catch (error) {
        failed += 1;
        result = { ...base, durationMs: Date.now() - start, figures: [], generatorCpuMax: 0, notes: [], error: (error as Error).message };
      }
      writeResult(output, result);
      writeMarkdown(output, machine);
      const summary = result.error
        ? `FAILED: ${result.error}`
        : result.figures.map((f) => `${f.name} ${f.system.toFixed(1)} vs ${f.baseline.toFixed(1)} ${f.unit}, ratio ${f.ratio.toFixed(2)}${f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'MISSED'})` : ''}`).join('; ');
      console.log(`bench: ${scenario.id} in ${(result.durationMs / 1000).toFixed(1)} s: ${summary}`);
      for (const note of result.notes.filter((n) => n.startsWith('⚠'))) console.log(`bench:   ${note}`);
    }
  } finally {
    await context.stop();
  }
  console.log(`bench: done in ${((Date.now() - began) / 1000).toFixed(1)} s; see ${relative(process.cwd(), output.markdownPath) || output.markdownPath}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
