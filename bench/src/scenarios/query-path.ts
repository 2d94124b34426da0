import { closedLoop, keepAliveAgent, poster } from '../support/load';
import type { ClosedLoopResult, PostResult } from '../support/load';
import type { RoundPair } from '../support/report';
import type { BenchContext } from '../support/system';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario, ScenarioOutcome } from './scenario';

export const SINGLE_QUERY = '{ patients(first: 10) { edges { node { id email } } } }';
export const JOIN_QUERY = '{ patients(first: 10) { edges { node { id user { email } } } } }';
const CONCURRENCY = 16;

/**
 * Throughput of A against B, interleaved: a warm-up of each, then rounds of A then B, each a closed loop of
 * {@link CONCURRENCY} callers.
 */
async function compare(context: BenchContext, a: () => Promise<PostResult>, b: () => Promise<PostResult>) {
  // Long enough for V8 to have optimized the gateway's path: with 1 s (3 s in full mode), the first round
  // read lower than the others, the join's most (0.53 against 0.67 to 0.81 in a full run).
  const warmMs = context.quick ? 3000 : 10_000;
  const measureMs = context.quick ? 2000 : 5000;
  const roundCount = context.quick ? 2 : 4;
  await closedLoop(CONCURRENCY, warmMs, a);
  await closedLoop(CONCURRENCY, warmMs, b);
  const rounds: RoundPair[] = [];
  const runs: { a: ClosedLoopResult; b: ClosedLoopResult }[] = [];
  for (let i = 0; i < roundCount; i++) {
    const ra = await closedLoop(CONCURRENCY, measureMs, a);
    const rb = await closedLoop(CONCURRENCY, measureMs, b);
    runs.push({ a: ra, b: rb });
    rounds.push(pair(ra.rate, rb.rate));
  }
  const errors = runs.reduce((sum, run) => sum + run.a.errors + run.b.errors, 0);
  const firstError = runs.map((run) => run.a.firstError ?? run.b.firstError).find(Boolean);
  if (runs.every((run) => run.a.completed === 0 || run.b.completed === 0)) throw new Error(`no request succeeded: ${firstError}`);
  const generatorCpuMax = Math.max(...runs.flatMap((run) => [run.a.generatorCpu, run.b.generatorCpu]));
  return { rounds, errors, firstError, generatorCpuMax, runs };
}

function outcome(result: Awaited<ReturnType<typeof compare>>, extra: string[]): ScenarioOutcome {
  const notes = [
    `closed loop, ${CONCURRENCY} concurrent callers over keep-alive HTTP/1.1; ${result.rounds.length} rounds A B after a warm-up`,
    ...extra,
    ...generatorNote(result.generatorCpuMax),
  ];
  if (result.errors) notes.push(`${result.errors} failed requests; first: ${result.firstError}`);
  return {
    figures: [figure('throughput', 'requests/s', result.rounds, { text: '≥ 0.5', met: (ratio) => ratio >= 0.5 })],
    generatorCpuMax: result.generatorCpuMax,
    notes,
    details: { runs: result.runs.map((run) => ({ system: run.a, baseline: run.b })) },
  };
}

export const queryPath: Scenario = {
  id: 'query-path',
  title: 'query path',
  system: `\`${SINGLE_QUERY}\` through the gateway`,
  baseline: 'the same query sent straight to the patients subgraph',
  async run(context) {
    const agent = keepAliveAgent(CONCURRENCY);
    const headers = { authorization: context.authorization };
    try {
      const result = await compare(context, poster(context.gateway.url, { query: SINGLE_QUERY }, headers, agent), poster(context.patients.url, { query: SINGLE_QUERY }, headers, agent));
      return outcome(result, ['target from the issue: a stock @apollo/gateway reaches about 0.2 here']);
    } finally {
      agent.destroy();
    }
  },
};

export const join: Scenario = {
  id: 'join',
  title: 'join',
  system: `\`${JOIN_QUERY}\` through the gateway (patients, then an _entities fetch to identity)`,
  baseline: 'the single-subgraph query through the gateway',
  async run(context) {
    const agent = keepAliveAgent(CONCURRENCY);
    const headers = { authorization: context.authorization };
    try {
      const result = await compare(context, poster(context.gateway.url, { query: JOIN_QUERY }, headers, agent), poster(context.gateway.url, { query: SINGLE_QUERY }, headers, agent));
      return outcome(result, []);
    } finally {
      agent.destroy();
    }
  },
};
