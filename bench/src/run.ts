import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { RESULTS_DIR, writeMarkdown, writeResult } from './support/report';
import type { ScenarioResult } from './support/report';
import { startBenchSystem } from './support/system';
import type { Scenario } from './scenarios/scenario';
import { join as joinScenario, queryPath } from './scenarios/query-path';
import { register } from './scenarios/register';
import { pipeline } from './scenarios/pipeline';
import { liveLatency } from './scenarios/live-latency';
import { fanOut } from './scenarios/fan-out';
import { idleMemory } from './scenarios/idle-memory';

const SCENARIOS: Scenario[] = [queryPath, joinScenario, register, pipeline, liveLatency, fanOut, idleMemory];

function parseArgs(argv: string[]) {
  const quick = argv.includes('--quick');
  const onlyIndex = argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  let only: string[] | undefined;
  if (onlyIndex >= 0) {
    const raw = argv[onlyIndex].includes('=') ? argv[onlyIndex].split('=')[1] : argv[onlyIndex + 1];
    only = (raw ?? '').split(',').filter(Boolean);
  }
  const unknown = argv.filter((arg, i) => arg.startsWith('--') && !['--quick'].includes(arg) && i !== onlyIndex);
  if (unknown.length) {
    console.error(`bench: unknown option ${unknown.join(' ')}. Usage: npm run bench -- [--quick] [--only query-path,join,...]`);
    process.exit(2);
  }
  return { quick, only };
}

async function main() {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const selected = SCENARIOS.filter((scenario, i) => !only || only.includes(scenario.id) || only.includes(String(i + 1)));
  if (selected.length === 0) {
    console.error(`bench: no scenario matches --only ${only?.join(',')}; scenarios: ${SCENARIOS.map((s) => s.id).join(', ')}`);
    process.exit(2);
  }
  const machine = `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const began = Date.now();
  console.log(`bench: ${selected.map((s) => s.id).join(', ')}${quick ? ' (--quick)' : ''} on ${machine}`);
  // Only the latest run's logs are kept.
  rmSync(join(RESULTS_DIR, 'tmp'), { recursive: true, force: true });
  const context = await startBenchSystem(quick, join(RESULTS_DIR, 'tmp'));
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
      const base = { scenario: scenario.id, title: scenario.title, system: scenario.system, baseline: scenario.baseline, quick, startedAt: startedAt.toISOString() };
      try {
        const outcome = await scenario.run(context);
        result = { ...base, durationMs: Date.now() - start, ...outcome };
      } catch (error) {
        failed += 1;
        result = { ...base, durationMs: Date.now() - start, figures: [], generatorCpuMax: 0, notes: [], error: (error as Error).message };
      }
      writeResult(result);
      writeMarkdown(machine);
      const summary = result.error
        ? `FAILED: ${result.error}`
        : result.figures.map((f) => `${f.name} ${f.system.toFixed(1)} vs ${f.baseline.toFixed(1)} ${f.unit}, ratio ${f.ratio.toFixed(2)}${f.target ? ` (target ${f.target}: ${f.met ? 'met' : 'MISSED'})` : ''}`).join('; ');
      console.log(`bench: ${scenario.id} in ${(result.durationMs / 1000).toFixed(1)} s: ${summary}`);
      for (const note of result.notes.filter((n) => n.startsWith('⚠'))) console.log(`bench:   ${note}`);
    }
  } finally {
    await context.stop();
  }
  console.log(`bench: done in ${((Date.now() - began) / 1000).toFixed(1)} s; see bench/RESULTS.md`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
