import type { Figure, RoundPair, ScenarioResult } from '../support/report';
import type { BenchContext } from '../support/system';
import { median } from '../support/load';

export type ScenarioOutcome = Omit<ScenarioResult, 'scenario' | 'title' | 'mode' | 'startedAt' | 'durationMs' | 'system' | 'baseline'>;

export interface Scenario {
  id: string;
  title: string;
  system: string;
  baseline: string;
  run(context: BenchContext): Promise<ScenarioOutcome>;
}

/** A figure from rounds of (system, baseline): medians of each, and the median of the per-round ratios. */
export function figure(name: string, unit: string, rounds: RoundPair[], target?: { text: string; met: (ratio: number, system: number) => boolean }): Figure {
  const result: Figure = {
    name,
    unit,
    system: median(rounds.map((r) => r.system)),
    baseline: median(rounds.map((r) => r.baseline)),
    ratio: median(rounds.map((r) => r.ratio)),
    rounds,
  };
  if (target) {
    result.target = target.text;
    result.met = target.met(result.ratio, result.system);
  }
  return result;
}

export const pair = (system: number, baseline: number): RoundPair => ({ system, baseline, ratio: system / baseline });

/** Notes that the load generator may have been the bottleneck. */
export function generatorNote(maxCpu: number): string[] {
  return maxCpu > 0.7
    ? [`⚠ the load generator used ${Math.round(maxCpu * 100)}% of a core in at least one window: it may have limited the figures (2 cores are shared by the generator and the services)`]
    : [];
}
