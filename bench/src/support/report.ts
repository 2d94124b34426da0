import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchMode } from './system';

/** One measured pair: the system, its raw baseline from the same run, and system ÷ baseline. */
export interface RoundPair {
  system: number;
  baseline: number;
  ratio: number;
}

export interface Figure {
  /** What is measured, e.g. "throughput". */
  name: string;
  unit: string;
  /** Medians over the rounds. */
  system: number;
  baseline: number;
  /** The median of the per-round ratios (not the ratio of the medians). */
  ratio: number;
  /** The target, in words, and whether this run met it. */
  target?: string;
  met?: boolean;
  rounds: RoundPair[];
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  system: string;
  baseline: string;
  mode: BenchMode;
  startedAt: string;
  durationMs: number;
  figures: Figure[];
  /** The bench process's highest CPU use in any measured window, in cores. */
  generatorCpuMax: number;
  notes: string[];
  error?: string;
  details?: Record<string, unknown>;
}

/** Where a run writes: `<scenario>.json` files and a Markdown table of all of them. */
export interface BenchOutput {
  resultsDir: string;
  markdownPath: string;
}

/** The committed results: bench/results/<scenario>.json and bench/RESULTS.md. */
export const COMMITTED_OUTPUT: BenchOutput = { resultsDir: join(__dirname, '..', '..', 'results'), markdownPath: join(__dirname, '..', '..', 'RESULTS.md') };
const ORDER = ['query-path', 'join', 'register', 'pipeline', 'live-latency', 'fan-out', 'idle-memory'];

export function writeResult(output: BenchOutput, result: ScenarioResult): void {
  mkdirSync(output.resultsDir, { recursive: true });
  writeFileSync(join(output.resultsDir, `${result.scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
};

/** Rewrites the Markdown table (bench/RESULTS.md) from every `<scenario>.json` present in the results folder. */
export function writeMarkdown(output: BenchOutput, machine: string): void {
  const results = readdirSync(output.resultsDir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => JSON.parse(readFileSync(join(output.resultsDir, file), 'utf8')) as ScenarioResult)
    .sort((a, b) => ORDER.indexOf(a.scenario) - ORDER.indexOf(b.scenario));
  const lines: string[] = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (${machine}). Each scenario runs the system and its raw baseline interleaved (A B A B …)`,
    'after a warm-up, in the same run; **ratio** is the median of the per-round ratios system ÷ baseline. These',
    'machines are noisy: read the ratios, not the absolute figures. Latencies are measured from the intended send',
    'time of a fixed-rate schedule; percentiles come from an HdrHistogram. Raw data: `bench/results/<scenario>.json`.',
    '',
    '| # | scenario | figure | system | baseline | ratio | target | met | mode | generator CPU |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  results.forEach((result) => {
    const number = ORDER.indexOf(result.scenario) + 1;
    const { mode } = result;
    const cpu = `${Math.round(result.generatorCpuMax * 100)}%${result.generatorCpuMax > 0.7 ? ' ⚠' : ''}`;
    if (result.error) lines.push(`| ${number} | ${result.title} | failed: ${result.error.replace(/\|/g, '/').slice(0, 200)} | | | | | ✗ | ${mode} | |`);
    for (const figure of result.figures) {
      const met = figure.met === undefined ? '' : figure.met ? '✓' : '✗';
      lines.push(
        `| ${number} | ${result.title} | ${figure.name} (${figure.unit}) | ${fmt(figure.system)} | ${fmt(figure.baseline)} | ${fmt(figure.ratio)} | ${figure.target ?? ''} | ${met} | ${mode} | ${cpu} |`,
      );
    }
  });
  lines.push('', '## Scenarios', '');
  for (const result of results) {
    lines.push(`### ${ORDER.indexOf(result.scenario) + 1}. ${result.title}`, '', `- system: ${result.system}`, `- baseline: ${result.baseline}`);
    lines.push(`- run: ${result.startedAt}, ${(result.durationMs / 1000).toFixed(1)} s, ${result.mode === 'full' ? 'full' : `--${result.mode}`}`);
    for (const figure of result.figures) {
      const rounds = figure.rounds.map((round) => `${fmt(round.system)} / ${fmt(round.baseline)} = ${fmt(round.ratio)}`).join('; ');
      lines.push(`- ${figure.name} per round (system / baseline = ratio): ${rounds}`);
    }
    for (const note of result.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  writeFileSync(output.markdownPath, `${lines.join('\n')}\n`);
}
