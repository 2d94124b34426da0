import { join as joinPath } from 'node:path';
import { freePort } from '../support/env';
import { closedLoop, keepAliveAgent, median, poster } from '../support/load';
import { startRaw } from '../support/processes';
import type { ProbedProcess } from '../support/processes';
import type { ClosedLoopResult, PostResult } from '../support/load';
import type { Figure } from '../support/report';
import type { BenchContext } from '../support/system';
import { figure, generatorNote, pair } from './scenario';
import type { Scenario, ScenarioOutcome } from './scenario';

export const SINGLE_QUERY = '{ patients(first: 10) { edges { node { id email } } } }';
export const JOIN_QUERY = '{ patients(first: 10) { edges { node { id user { email } } } } }';
const CONCURRENCY = 16;

/** One side of a comparison: how to send a request, and the process whose CPU per request to record, if any. */
interface Arm {
  send: () => Promise<PostResult>;
  measured?: ProbedProcess;
}

/** A closed loop's result, with the CPU of the arm's measured process per completed request (µs). */
type ArmRun = ClosedLoopResult & { cpuPerRequestUs?: number };

async function runArm(arm: Arm, durationMs: number): Promise<ArmRun> {
  const before = await arm.measured?.stats();
  const run = await closedLoop(CONCURRENCY, durationMs, arm.send);
  const after = await arm.measured?.stats();
  return before && after && run.completed ? { ...run, cpuPerRequestUs: (after.cpuUs - before.cpuUs) / run.completed } : run;
}

/**
 * Throughput of A against B (and of any further arms), interleaved: a warm-up of each, then rounds of A, B, …,
 * each a closed loop of {@link CONCURRENCY} callers. `rounds` pairs A with B; `runs[i][k]` is arm k in round i.
 */
async function compare(context: BenchContext, arms: Arm[]) {
  // Long enough for V8 to have optimized the gateway's path: with 1 s (3 s in full mode), the first round
  // read lower than the others, the join's most (0.53 against 0.67 to 0.81 in a full run).
  const warmMs = context.sized({ full: 10_000, quick: 3000, smoke: 300 });
  const measureMs = context.sized({ full: 5000, quick: 2000, smoke: 500 });
  const roundCount = context.sized({ full: 4, quick: 2, smoke: 1 });
  for (const arm of arms) await closedLoop(CONCURRENCY, warmMs, arm.send);
  const runs: ArmRun[][] = [];
  for (let i = 0; i < roundCount; i++) {
    const round: ArmRun[] = [];
    for (const arm of arms) round.push(await runArm(arm, measureMs));
    runs.push(round);
  }
  const all = runs.flat();
  const errors = all.reduce((sum, run) => sum + run.errors, 0);
  const firstError = all.map((run) => run.firstError).find(Boolean);
  if (runs.every((round) => round.some((run) => run.completed === 0))) throw new Error(`no request succeeded: ${firstError}`);
  const generatorCpuMax = Math.max(...all.map((run) => run.generatorCpu));
  return { rounds: runs.map((round) => pair(round[0].rate, round[1].rate)), errors, firstError, generatorCpuMax, runs };
}

function outcome(result: Awaited<ReturnType<typeof compare>>, extra: string[], furtherFigures: Figure[] = []): ScenarioOutcome {
  const notes = [
    `closed loop, ${CONCURRENCY} concurrent callers over keep-alive HTTP/1.1; ${result.rounds.length} rounds ${result.runs[0].length > 2 ? 'A B C' : 'A B'} after a warm-up`,
    ...extra,
    ...generatorNote(result.generatorCpuMax),
  ];
  if (result.errors) notes.push(`${result.errors} failed requests; first: ${result.firstError}`);
  return {
    figures: [figure('throughput', 'requests/s', result.rounds, { text: '≥ 0.5', met: (ratio) => ratio >= 0.5 }), ...furtherFigures],
    generatorCpuMax: result.generatorCpuMax,
    notes,
    details: { runs: result.runs.map(([system, baseline, ...further]) => ({ system, baseline, ...(further.length ? { further } : {}) })) },
  };
}

export const queryPath: Scenario = {
  id: 'query-path',
  title: 'query path',
  system: `\`${SINGLE_QUERY}\` through the gateway`,
  baseline: 'the same query sent straight to the patients subgraph; and the same query through a stock @apollo/gateway',
  async run(context) {
    const agent = keepAliveAgent(CONCURRENCY);
    const headers = { authorization: context.authorization };
    const stockPort = await freePort();
    const stock = await startRaw(
      'stock-gateway',
      'stock-gateway.js',
      { ...context.env, STOCK_PORT: String(stockPort), STOCK_SUBGRAPH_URLS: JSON.stringify({ identity: context.identity.url, patients: context.patients.url }) },
      joinPath(context.tmp, 'stock-gateway.log'),
    );
    try {
      const query = { query: SINGLE_QUERY };
      const result = await compare(context, [
        { send: poster(context.gateway.url, query, headers, agent), measured: context.gateway },
        { send: poster(context.patients.url, query, headers, agent) },
        { send: poster(`http://127.0.0.1:${stockPort}/`, query, headers, agent), measured: stock },
      ]);
      const rounds = result.runs.map(([ours, direct, stocked]) => ({ ours, direct, stock: stocked }));
      const stockVsDirect = rounds.map((round) => round.stock.rate / round.direct.rate);
      return outcome(
        result,
        [
          `C: the same query through a stock @apollo/gateway, as Apollo's documentation sets one up (\`RemoteGraphQLDataSource\` passing on \`Authorization\`, \`startStandaloneServer\`; bench/src/raw/stock-gateway.ts), in a process of its own, over the same subgraphs`,
          `stock @apollo/gateway ÷ direct: ${median(stockVsDirect).toFixed(2)} (rounds ${stockVsDirect.map((ratio) => ratio.toFixed(2)).join(', ')}); the issue expected about 0.2`,
          'gateway CPU per request: the gateway process alone (its CPU time over the round ÷ requests completed), ours and the stock one',
        ],
        [
          figure('throughput vs a stock @apollo/gateway', 'requests/s', rounds.map((round) => pair(round.ours.rate, round.stock.rate))),
          figure('gateway CPU per request vs a stock @apollo/gateway', 'µs', rounds.map((round) => pair(round.ours.cpuPerRequestUs ?? NaN, round.stock.cpuPerRequestUs ?? NaN))),
        ],
      );
    } finally {
      agent.destroy();
      await stock.stop();
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
      const result = await compare(context, [{ send: poster(context.gateway.url, { query: JOIN_QUERY }, headers, agent) }, { send: poster(context.gateway.url, { query: SINGLE_QUERY }, headers, agent) }]);
      return outcome(result, []);
    } finally {
      agent.destroy();
    }
  },
};
